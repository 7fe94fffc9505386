// What a policy names that only the branch can know it has: the doors a booking opens (`bookings[].doors`, the
// gateway's `main` and `hardware.doors`) and the switched outputs it schedules (`outputs`, the gateway's
// `hardware.switched`). decide() matches doors against the door tapped at; the gateway checks a policy it is sent
// against what its config has, and central against what the branch's last state says it has.

/** Whether a booking opens this door: one naming no doors opens every one; one naming doors, only at a door it names. */
export function bookingOpensDoor(booking: { readonly doors?: readonly string[] | undefined }, door: string | undefined): boolean {
  return booking.doors === undefined || (door !== undefined && booking.doors.includes(door));
}

/**
 * One `bookings[i].doors[j]: …` line for each door a booking names that the branch does not have: central publishes
 * one policy per branch, so such a door is most likely a typo, which would otherwise open nothing and tell nobody.
 */
export function unknownBookingDoors(policy: { readonly bookings: ReadonlyArray<{ readonly doors?: readonly string[] | undefined }> }, doors: readonly string[]): string[] {
  const have = new Set(doors);
  return policy.bookings.flatMap((booking, i) =>
    (booking.doors ?? []).flatMap((door, j) =>
      have.has(door) ? [] : [`bookings[${i}].doors[${j}]: no door "${door}" at this branch (doors: ${doors.join(', ')})`],
    ),
  );
}

/**
 * One `outputs.<id>: …` line for each switched output the policy schedules that the branch lacks: most likely a typo,
 * which would otherwise switch nothing and tell nobody (as a booking's unknown door).
 */
export function unknownPolicyOutputs(policy: { readonly outputs?: Readonly<Record<string, unknown>> | undefined }, outputs: readonly string[]): string[] {
  const have = new Set(outputs);
  const listed = outputs.length === 0 ? 'none' : outputs.join(', ');
  return Object.keys(policy.outputs ?? {})
    .filter((id) => !have.has(id))
    .map((id) => `outputs.${id}: no switched output "${id}" at this branch (outputs: ${listed})`);
}

/** The branch's doors and switched outputs against what a policy names (the gateway, `oag check-config`, central). */
export function unknownPolicyNames(
  policy: Parameters<typeof unknownBookingDoors>[0] & Parameters<typeof unknownPolicyOutputs>[0],
  branch: { doors: readonly string[]; outputs: readonly string[] },
): string[] {
  return [...unknownBookingDoors(policy, branch.doors), ...unknownPolicyOutputs(policy, branch.outputs)];
}
