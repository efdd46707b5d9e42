// Regenerates schemas/<format>.schema.json from the zod schemas in @curate/formats. Run after changing a schema:
//   npx tsc -p packages/formats/tsconfig.build.json && node scripts/gen-schemas.mjs
// (or `bash scripts/build-dev.sh` first). packages/formats/src/json-schema.test.ts fails when the files drift.
import { mkdirSync, writeFileSync } from "node:fs";

const root = new URL("..", import.meta.url);
let formats;
try {
  formats = await import(new URL("packages/formats/dist/index.js", root).href);
} catch (error) {
  console.error(
    `gen-schemas: build @curate/formats first (npx tsc -p packages/formats/tsconfig.build.json): ${error.message}`,
  );
  process.exit(2);
}
mkdirSync(new URL("schemas/", root), { recursive: true });
for (const { file, text } of formats.jsonSchemaFiles()) {
  writeFileSync(new URL(`schemas/${file}`, root), text);
  console.log(`wrote schemas/${file}`);
}
