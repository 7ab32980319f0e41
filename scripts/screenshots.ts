// `npm run screenshots`: regenerates docs/img/dashboard-list.png, dashboard-canary.png and dashboard-gitsync.png (shown
// in README.md) by running the dashboard's browser test, which saves them where WEIR_SCREENSHOT_DIR says.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', join(root, 'scripts', 'run-tests.ts'), 'test/integration/dashboard-browser.test.ts'],
  { cwd: root, stdio: 'inherit', env: { ...process.env, WEIR_SCREENSHOT_DIR: join(root, 'docs', 'img') } },
);
process.exit(r.status ?? 1);
