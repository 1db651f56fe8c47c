/**
 * The enabled rules of one kind in a ruleset for a target, as each kind's code asks for them on every
 * reading: made once per rules array (`rulesFor` gives the same array to targets with the same
 * overrides), and by id for the timers.
 */
import type { CompiledRule, CompiledRuleset, RuleTarget } from './compile/compileRuleset.ts';

/** A kind's rules of a ruleset for a target, and the same by id. */
export interface RuleIndex<R> {
  of(ruleset: CompiledRuleset, target: RuleTarget): readonly R[];
  byId(ruleset: CompiledRuleset, target: RuleTarget): ReadonlyMap<string, R>;
}

/**
 * An index of what `select` makes of a rules array (called once per array, with the ruleset it came
 * from); `idOf` gives an entry's rule id.
 */
export function ruleIndex<R>(
  select: (rules: readonly CompiledRule[], ruleset: CompiledRuleset) => readonly R[],
  idOf: (entry: R) => string = (entry) => (entry as { readonly id: string }).id,
): RuleIndex<R> {
  const lists = new WeakMap<readonly CompiledRule[], readonly R[]>();
  const maps = new WeakMap<readonly CompiledRule[], ReadonlyMap<string, R>>();
  const of = (ruleset: CompiledRuleset, target: RuleTarget): readonly R[] => {
    const rules = ruleset.rulesFor(target);
    let list = lists.get(rules);
    if (list === undefined) {
      list = select(rules, ruleset);
      lists.set(rules, list);
    }
    return list;
  };
  return {
    of,
    byId(ruleset, target) {
      const rules = ruleset.rulesFor(target);
      let map = maps.get(rules);
      if (map === undefined) {
        map = new Map(of(ruleset, target).map((entry) => [idOf(entry), entry]));
        maps.set(rules, map);
      }
      return map;
    },
  };
}
