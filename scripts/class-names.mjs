// Gives the bundle's classes the names esbuild's keepNames would give them, without keepNames
// (see scripts/bundle.mjs for why). Both builds hold the same classes in the same order; keepNames
// only adds `static{__name(this,"Name")}` to each. For every class whose name at run time would
// differ without it (renamed to avoid a collision, or anonymous), the same static block is added,
// with Object.defineProperty in place of esbuild's helper.
import * as acorn from 'acorn';

const PARSE = { ecmaVersion: 'latest', sourceType: 'script', allowHashBang: true };

/** Calls `onNode(node, parent)` for every node of an acorn tree, `node` itself first. */
export function walk(node, onNode, parent = undefined) {
  onNode(node, parent);
  for (const key in node) {
    const value = node[key];
    if (key === 'type' || key === 'start' || key === 'end' || !value || typeof value !== 'object') continue;
    if (Array.isArray(value)) {
      for (const child of value) if (child && typeof child.type === 'string') walk(child, onNode, node);
    } else if (typeof value.type === 'string') walk(value, onNode, node);
  }
}

/** Every class node of the program, in source order, with its parent. */
function classes(program) {
  const found = [];
  walk(program, (node, parent) => {
    if (node.type === 'ClassDeclaration' || node.type === 'ClassExpression') found.push({ node, parent });
  });
  return found.sort((a, b) => a.node.start - b.node.start);
}

/** The name JavaScript gives the class when it is defined (its own, or by named evaluation). */
function runtimeName({ node, parent }) {
  if (node.id) return node.id.name;
  if (parent?.type === 'VariableDeclarator' && parent.init === node && parent.id.type === 'Identifier') {
    return parent.id.name;
  }
  if (parent?.type === 'AssignmentExpression' && parent.right === node && parent.left.type === 'Identifier') {
    return parent.left.name;
  }
  if (
    (parent?.type === 'Property' || parent?.type === 'PropertyDefinition') &&
    parent.value === node &&
    !parent.computed
  ) {
    return parent.key.type === 'Identifier' ? parent.key.name : String(parent.key.value);
  }
  return '';
}

/** The name keepNames gives the class: its `static{__name(this,"Name")}`, or undefined. */
function keptName(node, text) {
  const first = node.body.body[0];
  if (first?.type !== 'StaticBlock') return undefined;
  return /^static\s*\{\s*__name\(this,\s*"([^"]*)"\)/.exec(text.slice(first.start, first.end))?.[1];
}

/** A class's member names, in order: what pairs it with the same class of the other build. */
function members(node) {
  return node.body.body
    .filter((member) => member.type !== 'StaticBlock')
    .map((member) => `${member.static ? 'static ' : ''}${member.kind ?? ''} ${memberKey(member)}`)
    .join(',');
}

function memberKey(member) {
  if (member.computed) return '[computed]';
  return member.key.type === 'PrivateIdentifier'
    ? `#${member.key.name}`
    : (member.key.name ?? String(member.key.value));
}

/** `text` (built without keepNames) with the class names of `named` (the same build with it). */
export function restoreClassNames(text, named) {
  const plain = classes(acorn.parse(text, PARSE));
  const kept = classes(acorn.parse(named, PARSE));
  if (plain.length !== kept.length) {
    throw new Error(`class names: ${plain.length} classes without keepNames, ${kept.length} with it`);
  }
  const inserts = [];
  plain.forEach((entry, i) => {
    // The two lists must hold the same classes in the same order: a shift would name classes
    // after others (and @nestjs/typeorm makes repository tokens from entity names).
    if (members(entry.node) !== members(kept[i].node)) {
      throw new Error(`class names: class ${i} (${runtimeName(entry) || 'anonymous'}) differs between the two builds`);
    }
    const name = keptName(kept[i].node, named);
    if (name === undefined || name === runtimeName(entry)) return;
    const at = entry.node.body.start + 1;
    inserts.push([at, `static{Object.defineProperty(this,"name",{value:${JSON.stringify(name)},configurable:!0})}`]);
  });
  let out = '';
  let from = 0;
  for (const [at, code] of inserts) {
    out += text.slice(from, at) + code;
    from = at;
  }
  return out + text.slice(from);
}
