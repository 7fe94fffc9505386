// The switched outputs' names as the branch's config gives them (`pcs` → "Public PCs"), for the preview and the log.
import type { GatewayState } from '../core/state.js';

/** The outputs' labels from the branch's state; a branch without outputs, or an output without a label, gives none. */
export function outputLabels(state: Pick<GatewayState, 'outputs'>): Map<string, string> {
  const labels = new Map<string, string>();
  for (const { id, label } of state.outputs ?? []) if (label !== undefined) labels.set(id, label);
  return labels;
}
