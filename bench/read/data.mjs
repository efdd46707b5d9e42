// Instruction records that look like real fine-tuning data: mostly English, one in ten with accents, CJK or emoji
// (non-ASCII changes the decoding cost), some Python-style \u escapes, sizes from ~150 bytes to a few KiB.
const words =
  "the of and to in is you that it he was for on are as with his they at be this have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part".split(
    " ",
  );
const extras = ["café", "naïve", "Grüße", "日本語のテキスト", "emoji 🙂🚀", "Привет мир", "مرحبا"];

/** Deterministic pseudo-random numbers, so every run writes the same file. */
export function rng(seed = 42) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function makeRecord(random, i) {
  const sentence = (n) => {
    const out = [];
    for (let k = 0; k < n; k++) out.push(words[Math.floor(random() * words.length)]);
    if (random() < 0.1) out.push(extras[Math.floor(random() * extras.length)]);
    return out.join(" ");
  };
  const kind = random();
  if (kind < 0.5) {
    return JSON.stringify({
      instruction: sentence(8 + Math.floor(random() * 20)),
      input: random() < 0.4 ? sentence(10 + Math.floor(random() * 40)) : "",
      output: sentence(20 + Math.floor(random() * 120)),
    });
  }
  const turns = 2 + 2 * Math.floor(random() * 3);
  const messages = [{ role: "system", content: "You are a helpful assistant." }];
  for (let t = 0; t < turns; t++) {
    messages.push({ role: t % 2 === 0 ? "user" : "assistant", content: sentence(10 + Math.floor(random() * 60)) });
  }
  const line = JSON.stringify({ id: `rec-${i}`, messages });
  // Python's json.dumps escapes non-ASCII by default; a share of real files look like this.
  return random() < 0.2
    ? line.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
    : line;
}

/** About `bytes` of JSONL, as an array of lines (without newlines). */
export function makeLines(bytes, seed = 42) {
  const random = rng(seed);
  const lines = [];
  let total = 0;
  for (let i = 0; total < bytes; i++) {
    const line = makeRecord(random, i);
    lines.push(line);
    total += Buffer.byteLength(line) + 1;
  }
  return lines;
}

/** `node bench/read/data.mjs OUT.jsonl MB` writes the file and a gzip copy (OUT.jsonl.gz), in its own process. */
if (process.argv[1] && import.meta.url === (await import("node:url")).pathToFileURL(process.argv[1]).href) {
  const { createReadStream, createWriteStream } = await import("node:fs");
  const { pipeline } = await import("node:stream/promises");
  const { createGzip } = await import("node:zlib");
  const [out, mb] = process.argv.slice(2);
  const lines = makeLines(Number(mb) * 1e6);
  const stream = createWriteStream(out);
  for (let i = 0; i < lines.length; i += 10_000) stream.write(`${lines.slice(i, i + 10_000).join("\n")}\n`);
  await new Promise((resolve, reject) => stream.end((error) => (error ? reject(error) : resolve())));
  await pipeline(createReadStream(out), createGzip({ level: 6 }), createWriteStream(`${out}.gz`));
}
