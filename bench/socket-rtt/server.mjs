// Node loopback server: for every 72 bytes received, 4128 bytes back (one write), as a target answers a read.
import net from 'node:net';
const REQ = 72, RESP = 4096 + 24 + 8;
const reply = Buffer.alloc(RESP);
const srv = net.createServer({ noDelay: true }, (s) => {
  let have = 0;
  s.on('data', (d) => { have += d.length; while (have >= REQ) { have -= REQ; s.write(reply); } });
  s.on('error', () => {});
});
srv.listen(Number(process.argv[2]), '127.0.0.1', () => console.log('listening'));
