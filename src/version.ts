// The version printed by `weir version` and exported as weir_info.
import { readFileSync } from 'node:fs';

/** Set by the bundler (scripts/build.ts); a source checkout reads package.json instead. */
declare const WEIR_BUILD_VERSION: string | undefined;

export const VERSION: string =
  typeof WEIR_BUILD_VERSION === 'string'
    ? WEIR_BUILD_VERSION
    : (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
        .version;
