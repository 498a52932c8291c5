// Which commits wrote a replay fixture, and whether they also changed workflow code — read from
// git, so the rule "record fixtures before a change, never with it" is checked, not just written.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

const WORKFLOW_CODE = /^(workflows|core)\//;

function git(args: string[]): string {
  return execFileSync('git', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

/** Commits that added or changed `file`, each with the workflow-code files it changed too. */
export function fixtureCommits(file: string): { commit: string; workflowFiles: string[] }[] {
  if (!existsSync('.git')) {
    // an unpacked tarball has no history to check; CI always runs from a clone
    if (process.env.CI === 'true')
      throw new Error('CI must run from a git clone: replay fixtures are checked against history');
    return [];
  }
  // a shallow clone's oldest commits show every file as added: they prove nothing either way
  const shallowFile = git(['rev-parse', '--git-path', 'shallow']).trim();
  const shallow = new Set(existsSync(shallowFile) ? readFileSync(shallowFile, 'utf8').split('\n') : []);
  return git(['log', '--format=%H', '--', file])
    .split('\n')
    .filter((c) => c && !shallow.has(c))
    .map((commit) => ({
      commit,
      workflowFiles: git(['show', '--name-only', '--format=', commit])
        .split('\n')
        .filter((f) => WORKFLOW_CODE.test(f)),
    }));
}
