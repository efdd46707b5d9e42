/** The OpenAI encodings curate counts with (`tiktoken`'s data). */
export type OpenAiEncoding = "o200k_base" | "cl100k_base" | "p50k_base" | "r50k_base";

/**
 * Which implementation counts: `fast` is curate's own pre-tokenizer + piece cache + BPE (proven id-for-id equal to the
 * references by golden tests); `reference` is the `tiktoken` package or `@huggingface/tokenizers` itself.
 */
export type TokenizerEngine = "fast" | "reference";

/**
 * Everything a worker thread needs to load a tokenizer: plain data, so it can cross the thread boundary. Build it
 * with `resolveTokenizer`, which checks names and folders without loading any tokenizer library.
 */
export type TokenizerSpec =
  | {
      readonly kind: "openai";
      readonly encoding: OpenAiEncoding;
      /** The model name the user gave (`gpt-4o-mini`), for the message accounting, context limit and price. */
      readonly model?: string;
      readonly engine?: TokenizerEngine;
    }
  | {
      readonly kind: "huggingface";
      /** Folder holding `tokenizer.json` (and usually `tokenizer_config.json`). */
      readonly dir: string;
      /** What the user called it: `llama3`, or the folder. */
      readonly name: string;
      readonly engine?: TokenizerEngine;
    };

/** One chat message, in the OpenAI / Hugging Face shape. Content parts are joined to text before counting. */
export interface ChatMessage {
  readonly role: string;
  readonly content?: unknown;
  readonly name?: string;
  readonly tool_calls?: unknown;
  readonly tool_call_id?: string;
  /** OpenAI fine-tuning: 0 excludes an assistant message from training. */
  readonly weight?: number;
  readonly [key: string]: unknown;
}

/** A conversation to count: messages and the tool (function) definitions offered to the model. */
export interface ChatInput {
  readonly messages: readonly ChatMessage[];
  readonly tools?: readonly unknown[];
}

/**
 * Tokens of one conversation: `total` as the trainer sees it, `trainable` the assistant turns (the tokens the loss is
 * computed on). `exact` is false when the count is an estimate (OpenAI's documented accounting, or a chat template
 * whose turns could not be located in the full rendering).
 */
export type ChatCount =
  | { readonly total: number; readonly trainable: number; readonly exact: boolean }
  | { readonly error: string };

/** What a loaded tokenizer is and how it counts. */
export interface TokenizerInfo {
  /** `o200k_base`, `llama3`, or the folder name. */
  readonly name: string;
  readonly kind: "openai" | "huggingface";
  readonly engine: TokenizerEngine;
  readonly model?: string;
  readonly vocabSize: number;
  /**
   * How chats are counted: `openai-estimate` (3 tokens per message, 1 per name, 3 to prime the reply, tools by the
   * cookbook's formula), `chat-template` (the tokenizer's own Jinja template, rendered and tokenized), or `plain`
   * (no template: role-tagged text, an estimate).
   */
  readonly chatAccounting: "openai-estimate" | "chat-template" | "plain";
  /**
   * Literal special-token strings in text (`<|endoftext|>`): `ordinary` counts them as the plain text they are
   * (OpenAI: what the fine-tuning API does with user text); `special` recognises them as the special token
   * (Hugging Face: what `tokenizer(text)` does, and what a rendered chat template needs).
   */
  readonly specialTokensInText: "ordinary" | "special";
  /** Tokens a plain-text training sequence gets on top of its text: BOS the tokenizer adds, plus EOS. */
  readonly sequenceOverhead: number;
  readonly bosToken?: string;
  readonly eosToken?: string;
}

/**
 * The one interface every tokenizing stage uses. Batches in, results in input order out; an implementation may run
 * in-process, on a worker pool, on a GPU or behind a remote service.
 * @example const [a, b] = await tokenizer.count(["hello world", "bonjour"]);
 */
export interface Tokenizer {
  /** Loads the tokenizer (in every worker) if not yet loaded, and describes it. */
  info(): Promise<TokenizerInfo>;
  /** Token counts of ordinary texts. */
  count(texts: readonly string[]): Promise<Uint32Array>;
  /** Token ids of ordinary texts. */
  encode(texts: readonly string[]): Promise<Uint32Array[]>;
  /** Text of token ids (the inverse of `encode` up to normalization). */
  decode(ids: readonly Uint32Array[]): Promise<string[]>;
  /** Tokens of conversations, with the trainable (assistant) part. */
  countChats(chats: readonly ChatInput[]): Promise<ChatCount[]>;
  /** Releases what this handle holds (a pool's threads, when it owns them). */
  close(): Promise<void>;
}
