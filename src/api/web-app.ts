import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router } from 'express';

/**
 * The folder Vite builds the web app into (`dist/web` of the package): found from this file, which
 * runs from `src/api` under vitest and from `dist/src/api` once compiled.
 */
export function defaultWebDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, 'dist', 'web');
}

/** The page may load its own scripts and styles, the service's images and the user's blobs, nothing else. */
const PAGE_POLICY = "default-src 'self'; img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/**
 * Serves the web app (`/`, `/assets/*`, `/favicon.svg`) from the Vite build. Assets have content
 * hashes in their names, so they are cached for good; the page itself is revalidated. Without a
 * build, `/` says where the API is and how to build the app.
 */
export function webAppRouter(options: { webDir?: string | undefined; version: string }) {
  const webDir = options.webDir ?? defaultWebDir();
  const router = Router();
  if (!existsSync(join(webDir, 'index.html'))) {
    router.get('/', (_req, res) => {
      res.json({ service: 'lookbook', version: options.version, docs: '/docs', openapi: '/openapi.json', web_app: 'not built: run `npm start` or `node scripts/ensure-setup.mjs`' });
    });
    return router;
  }
  router.use(
    express.static(webDir, {
      index: 'index.html',
      redirect: false,
      setHeaders(res, path) {
        res.setHeader('X-Content-Type-Options', 'nosniff');
        if (path.endsWith('.html')) {
          res.setHeader('Cache-Control', 'no-cache');
          res.setHeader('Content-Security-Policy', PAGE_POLICY);
        } else if (path.includes(`${join(webDir, 'assets')}`)) {
          res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
        }
      },
    }),
  );
  return router;
}
