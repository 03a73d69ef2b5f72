/**
 * The X-ALMA chat prompt (DESIGN 1), the default of a package's `promptTemplate`. "<s>" stands
 * for the BOS token; {source}, {target} are English language names, {text} the input.
 */
export const DEFAULT_PROMPT_TEMPLATE = '<s>[INST] Translate this from {source} to {target}:\n{source}: {text}\n{target}: [/INST]';
export const BOS_MARKER = '<s>';
