#!/usr/bin/env node
// Runs every test file of the workspace, one Node process per file, and ends with the line
// "N passed, N failed, N skipped" that CI reads. Test files are TypeScript run from source
// (the "source" export condition) through tsx, so no build is needed to test.
//
//   node scripts/run-tests.mjs [filter…]    only files whose path contains one of the filters
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const perFileTimeoutMs = 10 * 60 * 1000;

function findTestFiles(dir) {
  const found = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...findTestFiles(path));
    else if (name.endsWith('.test.ts')) found.push(path);
  }
  return found;
}

function runFile(file) {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', file],
      { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } },
    );
    let output = '';
    child.stdout.on('data', (chunk) => { output += chunk; process.stdout.write(chunk); });
    child.stderr.on('data', (chunk) => { output += chunk; process.stderr.write(chunk); });
    const timer = setTimeout(() => {
      output += `\n[run-tests] ${file}: killed after ${perFileTimeoutMs / 1000}s\n`;
      child.kill('SIGKILL');
    }, perFileTimeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}

// uvu prints "Total: N", "Passed: N" and "Skipped: N" once per process.
function countsFrom(output) {
  const number = (label) => {
    const match = output.match(new RegExp(`^\\s*${label}:\\s+(\\d+)`, 'm'));
    return match ? Number(match[1]) : undefined;
  };
  return { total: number('Total'), passed: number('Passed'), skipped: number('Skipped') ?? 0 };
}

const filters = process.argv.slice(2);
const files = findTestFiles(join(repo, 'packages'))
  .concat(findTestFiles(join(repo, 'bench')))
  .map((file) => relative(repo, file))
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();

// Leftovers of crashed runs first, so that they cannot make this run fail.
const sweep = await runFile(join('scripts', 'sweep.ts'));
if (sweep.code !== 0) console.log('[run-tests] sweeping leftovers failed; continuing');

let passed = 0;
let failed = 0;
let skipped = 0;
const failedFiles = [];
for (const file of files) {
  console.log(`\n[run-tests] ${file}`);
  const { code, signal, output } = await runFile(file);
  const counts = countsFrom(output);
  if (counts.total === undefined) {
    // The file crashed before uvu could report: count it as one failure.
    failed += 1;
    failedFiles.push(`${file} (no summary; exit ${code ?? signal})`);
    continue;
  }
  // uvu counts skipped tests outside its total.
  const fileFailed = counts.total - counts.passed;
  passed += counts.passed;
  skipped += counts.skipped;
  failed += fileFailed;
  if (fileFailed > 0 || code !== 0) {
    if (fileFailed === 0) failed += 1;
    failedFiles.push(`${file} (exit ${code ?? signal})`);
  }
}

if (failedFiles.length > 0) console.log(`\nfailed files:\n  ${failedFiles.join('\n  ')}`);
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || files.length === 0 ? 1 : 0);
