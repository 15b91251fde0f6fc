/**
 * CoRE Link Format (RFC 6690): serialising the gateway's resources for
 * /.well-known/core, and the query filtering of §4.1 (`?rt=terra.sensor`,
 * `?href=/motes/1*`; a trailing `*` matches a prefix).
 */

export interface Link {
  href: string;
  /** Attribute values: strings are quoted, true is a bare flag (obs), numbers are bare (ct, sz). */
  attrs: Record<string, string | number | true>;
}

/** RFC 6690 §2: `<href>;attr=value;...` joined by commas. */
export function formatLinks(links: readonly Link[]): string {
  return links.map((l) => {
    const parts = [`<${l.href}>`];
    for (const [k, v] of Object.entries(l.attrs)) {
      if (v === true) parts.push(k);
      else if (typeof v === "number") parts.push(`${k}=${v}`);
      else parts.push(`${k}="${v.replace(/["\\]/g, "\\$&")}"`);
    }
    return parts.join(";");
  }).join(",");
}

/**
 * Filter links by one `name=value` query (RFC 6690 §4.1). Space-separated
 * attribute values (rt, if, ct) match any of their words. Unknown attributes
 * match nothing.
 */
export function filterLinks(links: readonly Link[], query: string): Link[] {
  if (!query) return [...links];
  const eq = query.indexOf("=");
  const name = decodeURIComponent(eq < 0 ? query : query.slice(0, eq));
  const want = decodeURIComponent(eq < 0 ? "" : query.slice(eq + 1));
  const match = (v: string) => (want.endsWith("*") ? v.startsWith(want.slice(0, -1)) : v === want);
  return links.filter((l) => {
    if (name === "href") return match(l.href);
    const v = l.attrs[name];
    if (v === undefined) return false;
    if (v === true) return want === "" || want === "*";
    return String(v).split(" ").some(match);
  });
}
