/** Deeper JSON than any of our DTOs needs; deeper bodies are refused before validation recurses into them. */
export const MAX_BODY_DEPTH = 16;

/** True when a parsed body nests objects/arrays deeper than `max`. Iterative: cannot overflow the stack. */
export function exceedsDepth(value: unknown, max = MAX_BODY_DEPTH): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (depth >= max) return true;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}
