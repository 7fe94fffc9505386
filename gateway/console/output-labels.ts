// The switched outputs' names as the branch's config gives them (`pcs` → "Public PCs"), for the preview and the log.

/**
 * The outputs' labels from the branch's state (`outputs[].label`, contract 1.9), read defensively: a gateway
 * whose state has no outputs gives none, and the preview and the log name outputs by id.
 */
export function outputLabels(state: object): Map<string, string> {
  const outputs = 'outputs' in state ? state.outputs : undefined;
  const labels = new Map<string, string>();
  if (!Array.isArray(outputs)) return labels;
  for (const o of outputs as unknown[]) {
    if (typeof o !== 'object' || o === null) continue;
    const { id, label } = o as { id?: unknown; label?: unknown };
    if (typeof id === 'string' && typeof label === 'string') labels.set(id, label);
  }
  return labels;
}
