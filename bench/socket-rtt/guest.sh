# In the guest (bench/socket-rtt/run.mjs), from the project directory: loopback
# round trips of 72 bytes out, 4128 back (a capsule, then C2HData + data +
# CapsuleResp of a 4 KiB read), 3000 timed after 200, three repetitions of
# five pairs: C/C, a C client against a Node net server, a Node net client
# against a C server, a C client against a JS server on raw libc sockets
# (koffi, non-blocking recv spun on), and a Node client writing through net
# and reading by a spinning recv against a C server.
D=bench/socket-rtt
B=/tmp/socket-rtt
mkdir -p $B && cc -O2 -o $B/rtt $D/rtt.c || exit 1
N=3000
wait_line() { for i in $(seq 50); do grep -q listening "$1" 2>/dev/null && return; sleep 0.2; done; }
for rep in 1 2 3; do
  $B/rtt server 5001 > $B/s.out & sleep 0.5; echo "rep $rep C client, C server: $($B/rtt client 5001 $N)"; wait
  node $D/server.mjs 5002 > $B/n.out & P=$!; wait_line $B/n.out
  echo "rep $rep C client, Node net server: $($B/rtt client 5002 $N)"; kill $P; wait $P 2>/dev/null; rm -f $B/n.out
  $B/rtt server 5003 > $B/s.out & sleep 0.5; echo "rep $rep Node net client, C server: $(node $D/client.mjs 5003 $N)"; wait
  $B/rtt server 5005 > $B/s.out & sleep 0.5; echo "rep $rep Node client, writes by net, reads by a spinning recv (koffi), C server: $(node $D/client-polled.mjs 5005 $N)"; wait
  node $D/raw-server.mjs 5004 > $B/r.out & P=$!; wait_line $B/r.out
  echo "rep $rep C client, JS server on raw libc sockets (koffi, spinning recv): $($B/rtt client 5004 $N)"; wait $P 2>/dev/null; rm -f $B/r.out
done
