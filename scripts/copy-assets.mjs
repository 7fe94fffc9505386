// `npm run build` compiles TypeScript into dist/; the files the code reads beside itself (pages, example
// policies, central's PostgreSQL and SQLite migrations) are copied there too, so that dist/ runs on its own (the Pi's systemd
// units run it).
import { cpSync } from 'node:fs';

const assets = ['central/public', 'central/pg/migrations', 'central/sqlite-migrations', 'gateway/console/public', 'policies/examples'];
for (const folder of assets) cpSync(folder, `dist/${folder}`, { recursive: true });
console.log(`copied ${assets.join(', ')} into dist/`);
