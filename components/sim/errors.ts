/** Bad simulator input: names the file (or option), the line and the field at fault. */
export class SimInputError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | null,
    readonly field: string | null,
    readonly reason: string,
  ) {
    super(`${file}${line !== null ? `:${line}` : ""}: ${field ? `field "${field}": ` : ""}${reason}`);
    this.name = "SimInputError";
  }
}

/** Parse a duration: 600000, 600000ms, 600s, 10min, 1h, 1h30min, 1.5s. @returns ms, or undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (/^\d+$/.test(s)) return Number(s);
  const re = /(\d+(?:\.\d+)?)(ms|s|min|m|h)/y;
  let total = 0;
  let pos = 0;
  let any = false;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) return undefined;
    const unit = m[2] === "m" ? "min" : m[2];
    total += Number(m[1]) * ({ ms: 1, s: 1000, min: 60000, h: 3600000 } as Record<string, number>)[unit];
    pos = re.lastIndex;
    any = true;
  }
  return any ? Math.round(total) : undefined;
}

/** Split a line of a text input file into fields (whitespace and/or commas); '#' starts a comment. */
export function fields(line: string): string[] {
  const hash = line.indexOf("#");
  const body = hash >= 0 ? line.slice(0, hash) : line;
  return body.split(/[\s,;]+/).filter((f) => f.length > 0);
}
