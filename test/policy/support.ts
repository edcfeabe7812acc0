/**
 * Shared offline runs for the policy suites: each stack is run once (runs must not overlap) and
 * fixtures mutate deep copies of its recorded resources.
 */
import { readStackFile, stackFilePath } from "../../config/load";
import { OfflineRun, RecordedResource, runOffline, runStack } from "../../offline/engine";

const runs = new Map<string, Promise<OfflineRun>>();
let queue: Promise<unknown> = Promise.resolve();

/** Runs serially and caches: `stack` from stacks/, or a variant with extra relay config. */
export function offlineRun(
  stack: string,
  relayOverrides?: Record<string, unknown>,
): Promise<OfflineRun> {
  const key = `${stack}:${JSON.stringify(relayOverrides ?? {})}`;
  let run = runs.get(key);
  if (!run) {
    run = queue.then(() => {
      if (!relayOverrides) return runStack({ stack });
      const file = readStackFile(stackFilePath(stack), stack);
      return runOffline({ stack, relay: { ...file.relay, ...relayOverrides }, other: file.other });
    });
    queue = run.catch(() => undefined);
    runs.set(key, run);
  }
  return run;
}

export type Resources = RecordedResource[];

/** A deep copy of a run's resources, changed by `mutate`. */
export function mutated(run: OfflineRun, mutate: (resources: Resources) => void): Resources {
  const copy = structuredClone(run.resources);
  mutate(copy);
  return copy;
}

/** Resources of a type (optionally filtered); throws when none match, so a fixture cannot silently miss. */
export function all(resources: Resources, type: string, match?: (r: RecordedResource) => boolean) {
  const found = resources.filter((r) => r.type === type && (!match || match(r)));
  if (found.length === 0) throw new Error(`fixture: no ${type} matches`);
  return found;
}

export const first = (
  resources: Resources,
  type: string,
  match?: (r: RecordedResource) => boolean,
) => all(resources, type, match)[0];

/** Sets a property in both inputs and outputs (resource rules read inputs, stack rules outputs). */
export function set(resource: RecordedResource, key: string, value: unknown): void {
  for (const bag of [resource.inputs, resource.state]) {
    if (value === undefined) delete bag[key];
    else bag[key] = value;
  }
}

/** Rewrites a JSON policy document property in place. */
export function editPolicy(
  resource: RecordedResource,
  key: string,
  edit: (document: { Statement: Record<string, any>[] }) => void,
): void {
  const document = JSON.parse(resource.inputs[key]);
  edit(document);
  set(resource, key, JSON.stringify(document));
}
