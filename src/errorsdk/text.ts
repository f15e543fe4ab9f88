/** String attribute value, cut to `max` characters (error messages can be long). */
export function clip(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, max);
}
