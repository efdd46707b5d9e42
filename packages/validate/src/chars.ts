/**
 * The character classes of the text rules, shared by the reference checks (checks.ts) and the clean path
 * (clean.ts), so that the two can never disagree on what is a control character or white space.
 */

/** C0 controls except tab, newline and carriage return; DEL; C1 controls (a sign of Latin-1/UTF-8 mix-ups too). */
export const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;

/** The mark of text decoded with the wrong encoding. */
export const REPLACEMENT = "\uFFFD";

/** CONTROL or REPLACEMENT: one test per string for both kinds; the rare hit is then looked at closely. */
export const SUSPECT = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uFFFD]/;

// A regex test stops at the first non-space character; `trim()` would copy the string first.
const NON_SPACE = /\S/;

/**
 * True when `text` is empty or white space only (JavaScript's `\s`).
 * @example isBlank(" \u3000\n"); // true
 */
export const isBlank = (text: string): boolean => !NON_SPACE.test(text);
