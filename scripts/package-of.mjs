/**
 * The npm package a file under node_modules belongs to (`@scope/name` or `name`), from its path
 * (absolute, or relative as esbuild's metafile writes it); the innermost node_modules counts.
 * scripts/bundle.mjs lists the packages inside the bundle with it, and the bundle test the
 * packages Node loaded from node_modules, so that both name them alike.
 */
export function packageOf(path) {
  const parts = path.split('node_modules/').at(-1).split('/');
  return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}
