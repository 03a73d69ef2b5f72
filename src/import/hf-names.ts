/**
 * Tensor names of a Hugging Face LlamaForCausalLM checkpoint <-> ours (architecture.ts).
 *   model.embed_tokens.weight                     embed_tokens.weight
 *   model.layers.3.self_attn.q_proj.weight        layers.3.q_proj.weight
 *   model.layers.3.mlp.down_proj.weight           layers.3.down_proj.weight
 *   model.layers.3.input_layernorm.weight         layers.3.input_layernorm.weight
 *   model.norm.weight, lm_head.weight             norm.weight, lm_head.weight
 */
import { LORA_TARGETS, tensorNames, type LoraTarget } from '../model/architecture.ts';

/** The HF module a projection lives in. */
export const hfSection = (t: LoraTarget) => (t === 'gate_proj' || t === 'up_proj' || t === 'down_proj' ? 'mlp' : 'self_attn');

/** HF name -> ours, for the base (ignores nothing: unknown names return undefined). */
export function ourName(hf: string): string | undefined {
  if (hf === 'model.embed_tokens.weight') return tensorNames.embed;
  if (hf === 'model.norm.weight') return tensorNames.finalNorm;
  if (hf === 'lm_head.weight') return tensorNames.lmHead;
  const m = /^model\.layers\.(\d+)\.(?:(self_attn|mlp)\.([a-z_]+)|(input_layernorm|post_attention_layernorm))\.weight$/.exec(hf);
  if (!m) return undefined;
  const layer = Number(m[1]);
  if (m[4]) return m[4] === 'input_layernorm' ? tensorNames.inputNorm(layer) : tensorNames.postAttnNorm(layer);
  const target = m[3] as LoraTarget;
  if (!(LORA_TARGETS as readonly string[]).includes(target) || hfSection(target) !== m[2]) return undefined;
  return tensorNames.linear(layer, target);
}

/** Ours -> HF. */
export function hfNameOf(ours: string): string {
  if (ours === tensorNames.embed) return 'model.embed_tokens.weight';
  if (ours === tensorNames.finalNorm) return 'model.norm.weight';
  if (ours === tensorNames.lmHead) return 'lm_head.weight';
  const m = /^layers\.(\d+)\.(\w+)\.weight$/.exec(ours)!;
  const section = m[2].endsWith('layernorm') ? '' : `${hfSection(m[2] as LoraTarget)}.`;
  return `model.layers.${m[1]}.${section}${m[2]}.weight`;
}

