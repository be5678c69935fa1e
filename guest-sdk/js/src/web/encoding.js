// UTF-8 `TextEncoder` and `TextDecoder`, for engines that lack them (QuickJS).

export class TextEncoder {
  get encoding() {
    return "utf-8";
  }

  encode(input = "") {
    return utf8Encode(String(input));
  }
}

export class TextDecoder {
  constructor(label = "utf-8", options = {}) {
    const name = String(label).trim().toLowerCase();
    if (name !== "utf-8" && name !== "utf8" && name !== "unicode-1-1-utf-8") {
      throw new RangeError(`TextDecoder: only utf-8 is supported, not ${JSON.stringify(label)}`);
    }
    this.fatal = Boolean(options.fatal);
    this.ignoreBOM = Boolean(options.ignoreBOM);
  }

  get encoding() {
    return "utf-8";
  }

  decode(input) {
    if (input === undefined) return "";
    const bytes = toBytes(input);
    const start = !this.ignoreBOM && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
    return utf8Decode(bytes, start, this.fatal);
  }
}

/// A Uint8Array view of a BufferSource.
export function toBytes(input) {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  throw new TypeError("expected an ArrayBuffer or a typed array");
}

export function utf8Encode(text) {
  if (!/[^\x00-\x7f]/.test(text)) {
    const ascii = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) ascii[i] = text.charCodeAt(i);
    return ascii;
  }
  const out = [];
  for (let i = 0; i < text.length; i++) {
    let code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    }
    if (code >= 0xd800 && code <= 0xdfff) code = 0xfffd; // a lone surrogate
    if (code < 0x80) {
      out.push(code);
    } else if (code < 0x800) {
      out.push(0xc0 | (code >> 6), 0x80 | (code & 0x3f));
    } else if (code < 0x10000) {
      out.push(0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f));
    } else {
      out.push(
        0xf0 | (code >> 18),
        0x80 | ((code >> 12) & 0x3f),
        0x80 | ((code >> 6) & 0x3f),
        0x80 | (code & 0x3f),
      );
    }
  }
  return new Uint8Array(out);
}

export function utf8Decode(bytes, start = 0, fatal = false) {
  let out = "";
  let chunk = [];
  const flush = () => {
    out += String.fromCharCode.apply(null, chunk);
    chunk = [];
  };
  const invalid = () => {
    if (fatal) throw new TypeError("The encoded data was not valid utf-8");
    chunk.push(0xfffd);
  };
  let i = start;
  while (i < bytes.length) {
    const b = bytes[i];
    let code;
    let extra;
    let min;
    if (b < 0x80) {
      chunk.push(b);
      i++;
      if (chunk.length > 8192) flush();
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) {
      code = b & 0x1f;
      extra = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      code = b & 0x0f;
      extra = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      code = b & 0x07;
      extra = 3;
      min = 0x10000;
    } else {
      invalid();
      i++;
      continue;
    }
    let j = 1;
    for (; j <= extra; j++) {
      const next = bytes[i + j];
      if (next === undefined || (next & 0xc0) !== 0x80) break;
      code = (code << 6) | (next & 0x3f);
    }
    if (j <= extra || code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
      invalid();
      // A truncated sequence is one error and the byte that broke it is read again; a
      // complete but out-of-range one (overlong, surrogate) errs on each of its bytes.
      i += j <= extra ? j : 1;
      continue;
    }
    i += extra + 1;
    if (code >= 0x10000) {
      code -= 0x10000;
      chunk.push(0xd800 + (code >> 10), 0xdc00 + (code & 0x3ff));
    } else {
      chunk.push(code);
    }
    if (chunk.length > 8192) flush();
  }
  flush();
  return out;
}
