// The raw server exits when its client closes (recv returns 0).
// A loopback server in JavaScript without Node's sockets: libc socket calls through koffi,
// a non-blocking recv spun on (the way a polled user-space target would), one send per reply.
import koffi from 'koffi';
const lib = koffi.load('libc.so.6');
const socket = lib.func('int socket(int d, int t, int p)');
const bind = lib.func('int bind(int fd, void *a, uint32_t len)');
const listen = lib.func('int listen(int fd, int n)');
const accept = lib.func('int accept(int fd, void *a, void *l)');
const recv = lib.func('long recv(int fd, _Out_ uint8_t *buf, size_t n, int flags)');
const send = lib.func('long send(int fd, uint8_t *buf, size_t n, int flags)');
const setsockopt = lib.func('int setsockopt(int fd, int level, int name, void *v, uint32_t len)');
const REQ = 72, RESP = 4096 + 24 + 8, MSG_DONTWAIT = 0x40;
const port = Number(process.argv[2]);
const sa = Buffer.alloc(16); sa.writeUInt16LE(2, 0); sa.writeUInt16BE(port, 2); sa.writeUInt32BE(0x7f000001, 4);
const one = Buffer.alloc(4); one.writeInt32LE(1);
const l = socket(2, 1, 0);
setsockopt(l, 1, 2, one, 4); // SO_REUSEADDR
if (bind(l, sa, 16) !== 0 || listen(l, 4) !== 0) throw new Error('bind');
console.log('listening');
const c = accept(l, null, null);
setsockopt(c, 6, 1, one, 4); // TCP_NODELAY
const buf = Buffer.alloc(REQ), reply = Buffer.alloc(RESP);
let have = 0;
for (;;) {
  const r = Number(recv(c, buf, REQ - have, MSG_DONTWAIT));
  if (r === 0) break;
  if (r < 0) continue; // EAGAIN: spin
  have += r;
  if (have === REQ) { have = 0; send(c, reply, RESP, 0); }
}
