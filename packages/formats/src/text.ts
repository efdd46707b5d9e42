/**
 * The text a model is trained on, for keys (dedup, split) that must not depend on field order or metadata.
 * Chat turns are role-tagged so that the same words said by a different speaker are a different record.
 */
type Rec = Record<string, unknown>;

function isRec(value: unknown): value is Rec {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Receives a record's training text in pieces, in order: their concatenation is `trainingText(record)`. Lets a
 * consumer (exact dedup's key hash) read the text without the joined string ever being built.
 */
export interface TextSink {
  write(part: string): void;
}

/**
 * Text of a message `content`: a string, or an array of `{ type: "text", text }` parts.
 * @example contentText([{ type: "text", text: "Hello, " }, { type: "text", text: "world" }]); // "Hello, world"
 */
export function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((part) => (isRec(part) && typeof part.text === "string" ? part.text : "")).join("");
  }
  return "";
}

function writeContent(content: unknown, sink: TextSink): void {
  if (typeof content === "string") sink.write(content);
  else if (Array.isArray(content)) {
    for (const part of content) if (isRec(part) && typeof part.text === "string") sink.write(part.text);
  }
}

/** One turn, after `separator` (the "\n" between turns is written with the tag: one call fewer per turn). */
function writeMessage(message: unknown, separator: string, sink: TextSink): void {
  if (!isRec(message)) {
    sink.write(separator);
    return;
  }
  const role = typeof message.role === "string" ? message.role : typeof message.from === "string" ? message.from : "";
  sink.write(separator === "" ? "<|" : "\n<|");
  sink.write(role);
  sink.write("|>\n");
  writeContent(message.content ?? message.value, sink);
  if (Array.isArray(message.tool_calls)) {
    for (const call of message.tool_calls) {
      if (isRec(call) && isRec(call.function)) {
        sink.write(`\n${String(call.function.name)}(${String(call.function.arguments)})`);
      }
    }
  }
}

/** Turns joined by "\n" (a hole or a non-object turn adds its separator and no text). */
function writeTurns(value: unknown, sink: TextSink): void {
  if (typeof value === "string") sink.write(value);
  else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) writeMessage(value[i], i > 0 ? "\n" : "", sink);
  } else if (isRec(value) && Array.isArray(value.messages)) writeTurns(value.messages, sink);
}

/** Writes `value` if it is a non-empty string, after "\n\n" unless `first`; returns the next call's `first`. */
function writeField(value: unknown, first: boolean, sink: TextSink): boolean {
  if (typeof value !== "string" || value === "") return first;
  if (!first) sink.write("\n\n");
  sink.write(value);
  return false;
}

/**
 * Writes the training text of `record` to `sink` in pieces (see `trainingText` for what it is); `trainingText` is
 * this with the pieces joined, so the two can never disagree.
 * @example const parts: string[] = []; writeTrainingText({ prompt: "Hi", completion: "!" }, { write: (p) => parts.push(p) }); // parts: ["Hi", "!"]
 */
export function writeTrainingText(record: unknown, sink: TextSink): void {
  if (!isRec(record)) {
    if (typeof record === "string") sink.write(record);
    return;
  }
  if (Array.isArray(record.messages)) writeTurns(record.messages, sink);
  else if (Array.isArray(record.conversations)) writeTurns(record.conversations, sink);
  else writeOther(record, sink);
}

/** Records without top-level turns: preference pairs, alpaca, prompt + completion, `{ text }`, unknown shapes. */
function writeOther(record: Rec, sink: TextSink): void {
  if (isRec(record.input) && ("preferred_output" in record || "non_preferred_output" in record)) {
    writeTurns(record.input, sink);
    sink.write("\n\n");
    writeTurns(record.preferred_output, sink);
    sink.write("\n\n");
    writeTurns(record.non_preferred_output, sink);
    return;
  }
  if ("chosen" in record || "rejected" in record) {
    writeTurns(record.prompt, sink);
    sink.write("\n\n");
    writeTurns(record.chosen, sink);
    sink.write("\n\n");
    writeTurns(record.rejected, sink);
    return;
  }
  const shape = textShape(record);
  if (shape === "alpaca") {
    // Non-empty strings among system, instruction, input, output, joined by "\n\n" (no array per record).
    let first = writeField(record.system, true, sink);
    first = writeField(record.instruction, first, sink);
    first = writeField(record.input, first, sink);
    writeField(record.output, first, sink);
    return;
  }
  if (shape === "prompt_completion") {
    sink.write(String(record.prompt));
    sink.write(String(record.completion));
    return;
  }
  if (shape === "text") {
    sink.write(String(record.text));
    return;
  }
  // A shape curate does not know (GPTeacher's instruction/input/response, an eval set's question/answer): every
  // string field, empty ones too, joined by "\n\n", so no answer under a name curate does not know is left out.
  // Exact dedup keys such records by their whole canonical JSON instead (`keyReader`): non-string fields count too.
  let first = true;
  for (const value of Object.values(record)) {
    if (typeof value !== "string") continue;
    if (!first) sink.write("\n\n");
    sink.write(value);
    first = false;
  }
}

/**
 * Which rule gives a record's training text: a known format, `text` (a record that is only `{ text }`), or
 * `undefined` for a shape curate does not recognise (its string fields are its text; exact dedup keys it by its
 * whole canonical JSON). An
 * alpaca-like record needs its answer (`output`) and a prompt/completion one both fields: `{ instruction, input,
 * response }` is not alpaca with the answer ignored.
 * @example textShape({ instruction: "Add", input: "2 and 2", response: "4" }); // undefined
 */
export function textShape(
  record: unknown,
): "chat" | "sharegpt" | "dpo" | "pairs" | "alpaca" | "prompt_completion" | "text" | undefined {
  if (!isRec(record)) return undefined;
  if (Array.isArray(record.messages)) return "chat";
  if (Array.isArray(record.conversations)) return "sharegpt";
  if (isRec(record.input) && ("preferred_output" in record || "non_preferred_output" in record)) return "dpo";
  if ("chosen" in record || "rejected" in record) return "pairs";
  if (typeof record.instruction === "string" && typeof record.output === "string") return "alpaca";
  if (typeof record.prompt === "string" && typeof record.completion === "string") return "prompt_completion";
  const keys = Object.keys(record);
  if (keys.length === 1 && typeof record.text === "string") return "text";
  return undefined;
}

/** Collects the pieces: V8 concatenates into a rope, flattened once by whoever reads the string. */
class StringSink implements TextSink {
  text = "";
  write(part: string): void {
    this.text += part;
  }
}

/**
 * The training text of a record in any supported format: chat and ShareGPT turns role-tagged, alpaca
 * instruction + input + output, prompt + completion, preference prompt + both answers, a lone `text`. Shapes
 * curate does not recognise (`textShape` is undefined) fall back to every string field in key order.
 * @example trainingText({ instruction: "Add 2 and 2", output: "4" }); // "Add 2 and 2\n\n4"
 */
export function trainingText(record: unknown): string {
  const sink = new StringSink();
  writeTrainingText(record, sink);
  return sink.text;
}
