// Every relative link in README.md and docs/*.md resolves: the file (or
// directory) exists, and an anchor (#...) names a heading of the target
// file (GitHub's slugs) or an explicit <a id="..."> in it. External links
// (http:, https:, mailto:) are not checked. Links in code are not links.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The markdown files checked, relative to the repository root. */
function markdownFiles(): string[] {
  const docs = path.join(ROOT, 'docs');
  const inDocs = fs.existsSync(docs) ? fs.readdirSync(docs).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`) : [];
  return ['README.md', ...inDocs.sort()];
}

/** The text outside fenced code blocks and inline code spans. */
function prose(md: string): string {
  return md
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '')
    .replace(/`[^`\n]*`/g, '');
}

/** GitHub's anchor of a heading's text. */
export function slug(heading: string): string {
  const text = heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1') // a link: its text
    .replace(/`/g, '')
    .replace(/<[^>]+>/g, '')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

/** The anchors of a markdown text: heading slugs (duplicates numbered) and explicit ids. */
export function anchors(md: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  const noFences = md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const m of noFences.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const s = slug(m[1]!);
    const n = seen.get(s) ?? 0;
    seen.set(s, n + 1);
    out.add(n === 0 ? s : `${s}-${n}`);
  }
  for (const m of noFences.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) out.add(m[1]!);
  return out;
}

/** The link targets of a markdown text: inline links and images, and reference definitions. */
export function links(md: string): string[] {
  const p = prose(md);
  const out: string[] = [];
  for (const m of p.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push(m[1]!);
  for (const m of p.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)) out.push(m[1]!);
  return out;
}

/** What is wrong with the relative links of `file` (a path from the root), one line each. */
function brokenLinks(file: string): string[] {
  const abs = path.join(ROOT, file);
  const md = fs.readFileSync(abs, 'utf8');
  const broken: string[] = [];
  for (const target of links(md)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
    const hash = target.indexOf('#');
    const rel = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
    const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const dest = rel === '' ? abs : path.resolve(path.dirname(abs), rel);
    if (!fs.existsSync(dest)) {
      broken.push(`${file}: ${target}: no such file ${path.relative(ROOT, dest)}`);
      continue;
    }
    if (anchor === undefined) continue;
    if (!dest.endsWith('.md')) {
      broken.push(`${file}: ${target}: an anchor into a file that is not markdown`);
      continue;
    }
    if (!anchors(fs.readFileSync(dest, 'utf8')).has(anchor)) broken.push(`${file}: ${target}: no heading or id '${anchor}' in ${path.relative(ROOT, dest)}`);
  }
  return broken;
}

test('the checker: slugs, anchors and links as GitHub makes them', () => {
  assert.is(slug('npm run bench:stats'), 'npm-run-benchstats');
  assert.is(slug('Timeouts, aborts and resets'), 'timeouts-aborts-and-resets');
  assert.is(slug('`stats`, top'), 'stats-top');
  const a = anchors('# A\n## A\n```\n# not a heading\n```\n<a id="x"></a>\n');
  assert.equal([...a].sort(), ['a', 'a-1', 'x']);
  assert.equal(links('[a](b.md) `[c](d.md)` ![e](f.png)\n```\n[g](h.md)\n```\n[r]: ref.md\n'), ['b.md', 'f.png', 'ref.md']);
});

test('README.md and docs/*.md: every relative link and anchor resolves', () => {
  const files = markdownFiles();
  assert.ok(files.length > 1, 'docs/ has markdown files');
  const broken = files.flatMap(brokenLinks);
  assert.equal(broken, [], `broken links:\n${broken.join('\n')}`);
});

test.run();
