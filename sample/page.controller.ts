import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Controller, Get, Header } from '@nestjs/common';

/** The page lives in sample/public, beside this file in the source tree (and two levels up from dist/sample). */
function loadPage(): string {
  for (const candidate of ['./public/index.html', '../../sample/public/index.html']) {
    try {
      return readFileSync(fileURLToPath(new URL(candidate, import.meta.url)), 'utf8');
    } catch {
      // try the next location
    }
  }
  throw new Error('sample/public/index.html not found');
}

/** Serves the live demo page at `/`. */
@Controller()
export class PageController {
  private readonly page = loadPage();

  @Get()
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-cache')
  index(): string {
    return this.page;
  }
}
