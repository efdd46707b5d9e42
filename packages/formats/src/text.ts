/**
 * The text a model is trained on, for keys (dedup, split) that must not depend on field order or metadata.
 * Chat turns are role-tagged so that the same words said by a different speaker are a different record.
 */
type Rec = Record<string, unknown>;

function isRec(value: unknown): value is Rec {
  return typeof value === "object" && value !== null && !Array.isArray(value);
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

function messageText(message: unknown): string {
  if (!isRec(message)) return "";
  const role = typeof message.role === "string" ? message.role : typeof message.from === "string" ? message.from : "";
  let text = contentText(message.content ?? message.value);
  if (Array.isArray(message.tool_calls)) {
    for (const call of message.tool_calls) {
      if (isRec(call) && isRec(call.function))
        text += `\n${String(call.function.name)}(${String(call.function.arguments)})`;
    }
  }
  return `<|${role}|>\n${text}`;
}

function turnsText(value: unknown): string {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.map(messageText).join("\n");
  if (isRec(value) && Array.isArray(value.messages)) return turnsText(value.messages);
  return "";
}

/**
 * The training text of a record in any supported format: chat and ShareGPT turns role-tagged, alpaca
 * instruction + input + output, prompt + completion, preference prompt + both answers. Unknown shapes fall back
 * to the record's string fields in key order.
 * @example trainingText({ instruction: "Add 2 and 2", output: "4" }); // "Add 2 and 2\n\n4"
 */
export function trainingText(record: unknown): string {
  if (!isRec(record)) return typeof record === "string" ? record : "";
  if (Array.isArray(record.messages)) return turnsText(record.messages);
  if (Array.isArray(record.conversations)) return turnsText(record.conversations);
  if (isRec(record.input) && ("preferred_output" in record || "non_preferred_output" in record)) {
    return [turnsText(record.input), turnsText(record.preferred_output), turnsText(record.non_preferred_output)].join(
      "\n\n",
    );
  }
  if ("chosen" in record || "rejected" in record) {
    return [turnsText(record.prompt), turnsText(record.chosen), turnsText(record.rejected)].join("\n\n");
  }
  if (typeof record.instruction === "string") {
    return [record.system, record.instruction, record.input, record.output]
      .filter((part): part is string => typeof part === "string" && part !== "")
      .join("\n\n");
  }
  if (typeof record.prompt === "string" || typeof record.completion === "string") {
    return `${String(record.prompt ?? "")}${String(record.completion ?? "")}`;
  }
  return Object.values(record)
    .filter((v): v is string => typeof v === "string")
    .join("\n\n");
}
