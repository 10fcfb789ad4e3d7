import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Controller, Get, Header, type OnModuleInit } from '@nestjs/common';
import { buildClientBundle, uplotFiles } from './client-bundle.js';

/** A file of sample/public, beside this file in the source tree (and two levels up from dist/sample). */
function loadPublic(name: string): string {
  for (const candidate of [`./public/${name}`, `../../sample/public/${name}`]) {
    try {
      return readFileSync(fileURLToPath(new URL(candidate, import.meta.url)), 'utf8');
    } catch {
      // try the next location
    }
  }
  throw new Error(`sample/public/${name} not found`);
}

/** Serves the live demo page at `/`, its script, the client bundle and uPlot. */
@Controller()
export class PageController implements OnModuleInit {
  private readonly page = loadPublic('index.html');
  private readonly script = loadPublic('app.js');
  private readonly uplot = uplotFiles();
  private client = '';

  async onModuleInit(): Promise<void> {
    this.client = await buildClientBundle();
  }

  @Get()
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-cache')
  index(): string {
    return this.page;
  }

  @Get('app.js')
  @Header('content-type', 'text/javascript; charset=utf-8')
  @Header('cache-control', 'no-cache')
  app(): string {
    return this.script;
  }

  /** `nestjs-longlink/client`, bundled for browsers. */
  @Get('client.js')
  @Header('content-type', 'text/javascript; charset=utf-8')
  @Header('cache-control', 'no-cache')
  clientBundle(): string {
    return this.client;
  }

  @Get('vendor/uplot.js')
  @Header('content-type', 'text/javascript; charset=utf-8')
  uplotJs(): string {
    return this.uplot.js;
  }

  @Get('vendor/uplot.css')
  @Header('content-type', 'text/css; charset=utf-8')
  uplotCss(): string {
    return this.uplot.css;
  }
}
