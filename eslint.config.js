// Lint: typescript-eslint's recommended rules plus the layering of shared/DESIGN.md, enforced by
// a small local rule so that a forbidden import fails `npm test`, not a code review.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const repoRoot = path.dirname(fileURLToPath(import.meta.url));

// Which of our top-level folders each folder may import (DESIGN.md, "Layout").
// bench/ also reaches log/ and raft/ directly (`bench:log` measures the storage engine itself)
// and chaos/ for its process launcher (`bench:produce` starts a fresh local cluster).
const allowedImports = {
  proto: [],
  log: [],
  raft: [],
  node: ['log', 'raft', 'proto', 'controller'],
  controller: ['raft', 'proto'],
  client: ['proto', 'log'],
  chaos: ['client', 'proto'],
  bench: ['client', 'log', 'raft', 'proto', 'chaos'],
  test: null, // anything
  scripts: null,
  bin: null,
};

function topFolder(file) {
  const rel = path.relative(repoRoot, file);
  if (rel.startsWith('..')) return undefined;
  const parts = rel.split(path.sep);
  return parts.length > 1 ? parts[0] : undefined;
}

const layerImports = {
  meta: {
    type: 'problem',
    docs: { description: 'Enforce the import matrix of shared/DESIGN.md' },
    schema: [],
  },
  create(context) {
    const file = context.filename;
    const from = topFolder(file);
    if (from === undefined || !(from in allowedImports) || allowedImports[from] === null) return {};
    const allowed = new Set([from, ...allowedImports[from]]);
    function check(node, source) {
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const target = topFolder(path.resolve(path.dirname(file), source));
      if (target === undefined || allowed.has(target)) return;
      context.report({
        node,
        message: `${from}/ may not import ${target}/ (shared/DESIGN.md allows: ${[...allowed].join(', ')})`,
      });
    }
    return {
      ImportDeclaration: (n) => check(n, n.source.value),
      ExportNamedDeclaration: (n) => n.source && check(n, n.source.value),
      ExportAllDeclaration: (n) => check(n, n.source.value),
      ImportExpression: (n) => n.source.type === 'Literal' && check(n, n.source.value),
    };
  },
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', 'dist/**', 'coverage/**', 'proto/gen/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { ferry: { rules: { 'layer-imports': layerImports } } },
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly' } },
    rules: {
      'ferry/layer-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // raft/ is a pure state machine: time enters as tick(), randomness as an injected source,
    // persistence as output. The simulator under raft/sim/ is the host and may print and exit.
    files: ['raft/**/*.ts'],
    ignores: ['raft/sim/cli.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{
          group: ['fs', 'node:fs', 'fs/*', 'node:fs/*', 'net', 'node:net', 'http', 'node:http', 'http2', 'node:http2',
            'dgram', 'node:dgram', 'timers', 'node:timers', 'timers/*', 'node:timers/*', 'child_process',
            'node:child_process', 'worker_threads', 'node:worker_threads', '@grpc/*', 'level', 'classic-level'],
          message: 'raft/ does no I/O: the host persists, sends and schedules.',
        }],
      }],
      'no-restricted-globals': ['error',
        { name: 'setTimeout', message: 'raft/ has no timers: time enters as tick().' },
        { name: 'setInterval', message: 'raft/ has no timers: time enters as tick().' },
        { name: 'setImmediate', message: 'raft/ has no timers: time enters as tick().' },
        { name: 'process', message: 'raft/ is pure: no process state.' },
      ],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'raft/ has no clock: time enters as tick().' },
        { object: 'Math', property: 'random', message: 'raft/ randomness comes from an injected seeded source.' },
      ],
      'no-restricted-syntax': ['error',
        { selector: "NewExpression[callee.name='Date']", message: 'raft/ has no clock: time enters as tick().' },
      ],
    },
  },
);
