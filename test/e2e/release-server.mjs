// A release server on 127.0.0.1 that answers as GitHub does for release
// downloads, for the installer tests:
//   /<owner>/<repo>/releases/download/<tag>/<asset>   DIR/<repo>/<tag>/<asset>, or 404
//   /<owner>/<repo>/releases/latest/download/<asset>  302 to the above, <tag> read
//                                                     from DIR/<repo>/latest at each request
// so each <repo> is a scenario of its own (good releases, a tampered one...).
// An asset with a file <asset>.truncate beside it is cut off half way: the
// headers promise the whole length, half the bytes come, the connection closes.
// Each request is logged on stdout: "GET <path> <status>".
//
// Usage: node release-server.mjs DIR PORTFILE   (the port it got is written to PORTFILE)
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';

const [dir, portFile] = process.argv.slice(2);
const NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/; // no "..", no "/"

function answer(req, res) {
  const reply = (status, headers = {}, body = '') => {
    console.log(`${req.method} ${req.url} ${status}`);
    res.writeHead(status, headers).end(body);
  };
  const parts = req.url.split('?')[0].split('/').slice(1);
  // owner, repo, "releases", then "latest", "download", asset or "download", tag, asset
  if (parts.length !== 6 || parts[2] !== 'releases' || !parts.every((p) => NAME.test(p))) return reply(404, {}, 'Not Found');
  if (parts[3] === 'latest' && parts[4] === 'download') {
    const latest = path.join(dir, parts[1], 'latest');
    if (!fs.existsSync(latest)) return reply(404, {}, 'Not Found');
    const tag = fs.readFileSync(latest, 'utf8').trim();
    return reply(302, { Location: `/${parts[0]}/${parts[1]}/releases/download/${tag}/${parts[5]}` });
  }
  if (parts[3] !== 'download') return reply(404, {}, 'Not Found');
  const file = path.join(dir, parts[1], parts[4], parts[5]);
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) return reply(404, {}, 'Not Found');
  const body = fs.readFileSync(file);
  if (fs.existsSync(file + '.truncate')) {
    console.log(`${req.method} ${req.url} 200 (cut off after ${body.length >> 1} of ${body.length} bytes)`);
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
    res.write(body.subarray(0, body.length >> 1), () => res.destroy());
    return;
  }
  reply(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length }, body);
}

const server = http.createServer((req, res) => {
  try {
    answer(req, res);
  } catch (err) {
    console.log(`${req.method} ${req.url} 500 ${err.message}`);
    res.writeHead(500).end();
  }
});
server.listen(0, '127.0.0.1', () => fs.writeFileSync(portFile, String(server.address().port)));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
