// Makes a bundle pure ASCII, so V8 keeps its source as a one-byte string. One non-ASCII character
// anywhere makes the whole source two bytes per character: the 5.3 MB bundle held 10.6 MB of
// heap (large-object space) for as long as the process ran. esbuild already escapes strings, but
// leaves comments (JSDoc with "—", "§") and regular-expression literals (validator's locale
// alphabets) as they are, so those are rewritten here: comments lose their non-ASCII characters,
// regular expressions get them as escapes with the same meaning.
import * as acorn from 'acorn';

// eslint-disable-next-line no-control-regex -- the whole ASCII range, control characters included, is the point
const NON_ASCII = /[^\x00-\x7f]/;
// eslint-disable-next-line no-control-regex -- as above
const NON_ASCII_ALL = /[^\x00-\x7f]/g;

const hex4 = (unit) => `\\u${unit.toString(16).padStart(4, '0')}`;

/** The pattern with each non-ASCII character escaped: code points in u/v mode, UTF-16 units otherwise. */
function escapePattern(pattern, flags) {
  if (flags.includes('u') || flags.includes('v')) {
    return [...pattern].map((ch) => (NON_ASCII.test(ch) ? `\\u{${ch.codePointAt(0).toString(16)}}` : ch)).join('');
  }
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const unit = pattern.charCodeAt(i);
    if (pattern[i] === '\\' && i + 1 < pattern.length) {
      // An escape: copied whole, unless it escapes a non-ASCII character (`\é`, an identity
      // escape outside u/v mode, which means the character itself): then the character's escape.
      const next = pattern.charCodeAt(i + 1);
      out += next > 0x7f ? hex4(next) : pattern.slice(i, i + 2);
      i++;
      continue;
    }
    out += unit > 0x7f ? hex4(unit) : pattern[i];
  }
  return out;
}

/**
 * Returns { code, left }: the source with comments and regular expressions made ASCII, and how
 * many non-ASCII characters are left elsewhere (in template literals, which a tag such as
 * String.raw could see escaped; esbuild escapes the plain ones).
 */
export function asciiOnly(source) {
  if (!NON_ASCII.test(source)) return { code: source, left: 0 };
  const edits = [];
  const onComment = (_block, text, start, end) => {
    // U+2028/2029 end a line for automatic semicolon insertion, even inside a block comment.
    const ascii = (comment) => comment.replace(/[\u2028\u2029]/g, '\n').replace(NON_ASCII_ALL, '?');
    if (NON_ASCII.test(text)) edits.push([start, end, ascii(source.slice(start, end))]);
  };
  const options = { ecmaVersion: 'latest', sourceType: 'script', allowHashBang: true, onComment };
  for (const token of acorn.tokenizer(source, options)) {
    if (token.type === acorn.tokTypes.regexp && NON_ASCII.test(token.value.pattern)) {
      const { pattern, flags } = token.value;
      edits.push([token.start, token.end, `/${escapePattern(pattern, flags)}/${flags}`]);
    }
  }
  edits.sort((a, b) => a[0] - b[0]);
  let code = '';
  let at = 0;
  for (const [start, end, text] of edits) {
    code += source.slice(at, start) + text;
    at = end;
  }
  code += source.slice(at);
  return { code, left: (code.match(NON_ASCII_ALL) ?? []).length };
}
