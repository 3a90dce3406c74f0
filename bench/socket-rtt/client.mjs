// Node loopback client: 72 bytes out, wait for 4128 back, N times (after 200 warm-up); mean, p50, p99.
import net from 'node:net';
const REQ = 72, RESP = 4096 + 24 + 8, N = Number(process.argv[3]);
const req = Buffer.alloc(REQ);
const s = net.connect({ port: Number(process.argv[2]), host: '127.0.0.1', noDelay: true });
const t = []; let i = 0, have = 0, t0 = 0;
const send = () => { t0 = performance.now(); s.write(req); };
s.on('connect', send);
s.on('data', (d) => { have += d.length; if (have < RESP) return; have -= RESP; if (i >= 200) t.push((performance.now() - t0) * 1000); if (++i < N + 200) send(); else { t.sort((a, b) => a - b); const mean = t.reduce((a, b) => a + b, 0) / t.length; console.log(JSON.stringify({ meanUs: +mean.toFixed(1), p50Us: +t[t.length >> 1].toFixed(1), p99Us: +t[Math.floor(t.length * 0.99)].toFixed(1), n: t.length })); s.end(); } });
