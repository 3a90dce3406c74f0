// A Node net client that writes through Node (socket.write) and reads by
// spinning a non-blocking recv(2) on the socket's fd through koffi, Node's
// own reading paused: the shape a polled initiator queue pair would have.
import net from 'node:net';
import koffi from 'koffi';
const recv = koffi.load('libc.so.6').func('long recv(int fd, _Out_ uint8_t *buf, size_t n, int flags)');
const REQ = 72, RESP = 4096 + 24 + 8, N = Number(process.argv[3]), MSG_DONTWAIT = 0x40;
const req = Buffer.alloc(REQ), buf = Buffer.alloc(65536);
const s = net.connect({ port: Number(process.argv[2]), host: '127.0.0.1', noDelay: true });
s.on('connect', () => {
  s.pause();
  const fd = s._handle.fd;
  const t = [];
  for (let i = 0; i < N + 200; i++) {
    const t0 = performance.now();
    s.write(req);
    let have = 0;
    while (have < RESP) {
      const r = Number(recv(fd, buf, buf.length, MSG_DONTWAIT));
      if (r === 0) throw new Error('closed');
      if (r > 0) have += r;
    }
    if (i >= 200) t.push((performance.now() - t0) * 1000);
  }
  t.sort((a, b) => a - b);
  const mean = t.reduce((a, b) => a + b, 0) / t.length;
  console.log(JSON.stringify({ meanUs: +mean.toFixed(1), p50Us: +t[t.length >> 1].toFixed(1), p99Us: +t[Math.floor(t.length * 0.99)].toFixed(1), n: t.length }));
  s.destroy();
});
