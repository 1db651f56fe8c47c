/**
 * Serves a directory over HTTP on loopback, with range requests: icebird reads Iceberg tables only
 * over HTTP. Each response closes its connection. With keep-alive, the client may reuse an idle socket
 * in the same instant the server's keep-alive timer closes it, and the request fails with ECONNRESET;
 * on a loaded machine that happened often enough to fail a run.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';

/** A started file server and its base URL (no trailing slash). */
export interface FileServer {
  readonly server: Server;
  readonly url: string;
  close(): Promise<void>;
}

/** Starts serving `dir` on 127.0.0.1 at a free port. */
export async function serveDirectory(dir: string): Promise<FileServer> {
  const server = createServer(async (req, res) => {
    res.shouldKeepAlive = false;
    const path = join(dir, decodeURIComponent(new URL(req.url!, 'http://x').pathname));
    const size = await stat(path).then(
      (s) => (s.isFile() ? s.size : -1),
      () => -1,
    );
    if (size < 0) return void res.writeHead(404).end();
    const range = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? '');
    if (!range) {
      res.writeHead(200, { 'content-length': size });
      return void (req.method === 'HEAD' ? res.end() : createReadStream(path).pipe(res));
    }
    const start = Number(range[1]);
    const end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
    res.writeHead(206, {
      'content-length': end - start + 1,
      'content-range': `bytes ${start}-${end}/${size}`,
    });
    createReadStream(path, { start, end }).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  };
}
