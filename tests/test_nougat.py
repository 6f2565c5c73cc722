"""Nougat's transformers code path with a tiny, randomly initialised model of Nougat's
architecture (Donut-Swin encoder, MBart decoder) and its processor, built here: real loading,
batching, generation, decoding and post-processing; no weights are downloaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocrflow import engines
from ocrflow.engines import PageInput
from ocrflow.inputs.render import RenderTask, render_page
from ocrflow.run import config
from tests.support import pdfs

torch = pytest.importorskip("torch")  # installed by `make test` (CPU build)
transformers = pytest.importorskip("transformers")


def tiny_nougat(folder: Path) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3}
    for word in ["#", "##", "the", "page", "of", "text", "table", "a", "report", "line", "word"]:
        vocab.setdefault(word, len(vocab))
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.decoder = decoders.WordPiece()
    processor = transformers.NougatProcessor(
        image_processor=transformers.NougatImageProcessor(size={"height": 64, "width": 48}),
        tokenizer=transformers.NougatTokenizerFast(
            tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
            unk_token="<unk>"))
    encoder = transformers.DonutSwinConfig(image_size=[64, 48], patch_size=4, embed_dim=8,
                                           depths=[1, 1], num_heads=[1, 1], window_size=4)
    decoder = transformers.MBartConfig(
        vocab_size=len(vocab), d_model=16, decoder_layers=1, decoder_attention_heads=2,
        decoder_ffn_dim=32, encoder_layers=1, encoder_attention_heads=2, encoder_ffn_dim=32,
        max_position_embeddings=512, is_decoder=True, add_cross_attention=True,
        pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1)
    model_config = transformers.VisionEncoderDecoderConfig.from_encoder_decoder_configs(
        encoder, decoder)
    model_config.decoder_start_token_id, model_config.pad_token_id = 1, 0
    model_config.eos_token_id = 2
    torch.manual_seed(0)
    transformers.VisionEncoderDecoderModel(config=model_config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def nougat_settings(model: Path, **changes: object) -> dict:
    return {**config.validate({"input": "x"})["engines"]["nougat"], "model": str(model),
            "device": "cpu", **changes}


def rendered_pages(tmp_path: Path, engine: engines.Engine, texts: list[str]) -> list[PageInput]:
    path = pdfs.write(tmp_path / "doc.pdf", pdfs.text_pdf(texts))
    pages = []
    for number in range(1, len(texts) + 1):
        page = PageInput("h", number, str(path))
        page.image = render_page(RenderTask(page, engine.render_spec))
        pages.append(page)
    return pages


def test_nougat_reads_pages_in_batches(tmp_path: Path) -> None:
    model = tiny_nougat(tmp_path / "nougat-tiny")
    engine = engines.create("nougat", nougat_settings(model, batch_size=2, max_new_tokens=20,
                                                      repetition_window=8))
    pages = rendered_pages(tmp_path, engine, ["one", "two", "three"])
    batches = []
    engine.start()
    assert engine.dtype == torch.float32  # bf16 is for GPUs, as upstream
    generate = engine.model.generate

    def counting_generate(pixel_values, **kwargs):
        batches.append(pixel_values.shape[0])
        return generate(pixel_values, **kwargs)

    engine.model.generate = counting_generate
    results = list(engine.run(pages))
    engine.close()
    assert batches == [2, 1]
    assert [page.page for page, _ in results] == [1, 2, 3]
    for _, output in results:
        assert output.error == ""
        assert output.finish_reason in ("stop", "length", "repetition")
        if output.finish_reason == "repetition":
            assert output.meta["missing_page"] == "fail"
        elif not output.text:
            assert output.meta["missing_page"] == "empty"


# Nougat's loop handling, written here from its published description (facebookresearch/nougat,
# nougat/model.py: StoppingCriteriaScores with RunningVarTorch, and NougatModel.inference),
# for one page generated alone: the reference the engine must match in any batch.
def reference_stop_step(max_logits: list[float], window: int, threshold: float) -> int | None:
    values: list[float] = []
    variances: list[float] = []
    stop_index, stopped = 0, False
    for size, value in enumerate(max_logits, start=1):
        values = [*values, value][-15:]
        variances = [*variances, float(torch.tensor(values).var() / len(values))][-window:]
        if size < window:
            continue
        if float(torch.tensor(variances).var()) < threshold:
            if stop_index > 0 and not stopped:
                stopped = stop_index >= size
            else:
                stop_index = int(min(max(size, 1) * 1.15 + 150 + window, 4095))
        else:
            stop_index, stopped = 0, False
        if stopped:
            return size
    return None


def reference_cut(max_logits: list[float], ended: bool) -> int | None:
    import numpy as np

    var = np.array([np.var(max_logits[i:i + 15]) / 15 for i in range(len(max_logits) - 15)])
    if len(var) < 10 or ended:
        return None
    reversed_var = var[::-1]
    varvar = np.array([np.var(reversed_var[:i + 10])
                       for i in range(len(reversed_var) - 10)][::-1])
    small = np.where(varvar < 0.045)[0]
    if len(small) > 1 and np.all(np.diff(small) < 2):
        idx = int(min(max(small[0], 1) * 1.08 + 120, 4095))
        if idx / len(max_logits) > 0.9:
            return None
        return 0 if small[0] < 30 else idx
    return None


# A random model loops at once: stopped by the criterion (window + 2 steps: the first running
# variance is NaN), cut at the start by the search after a long loop ([MISSING_PAGE_EMPTY]), or
# cut by the token limit before the criterion could tell.
@pytest.mark.parametrize(("window", "limit", "finish"), [
    (20, 160, "stop"), (150, 200, "empty"), (40, 30, "length")])
def test_nougat_stops_where_upstream_stops_in_any_batch(tmp_path: Path, window: int, limit: int,
                                                        finish: str) -> None:
    model = tiny_nougat(tmp_path / "nougat-tiny")
    threshold = 0.015
    texts = ["A report of the harbour", "Table 1", "x", "The minutes of the meeting"]
    engine = engines.create("nougat", nougat_settings(
        model, max_new_tokens=limit, repetition_window=window, repetition_threshold=threshold))
    pages = rendered_pages(tmp_path, engine, texts)
    engine.start()
    expected = []
    for page in pages:  # each page alone, generated to its end with no stopping criterion
        pixels = engine.processor(images=[page.image.to_pil().convert("RGB")],
                                  return_tensors="pt").pixel_values
        out = engine.model.generate(pixels, max_new_tokens=limit, do_sample=False,
                                    output_scores=True, return_dict_in_generate=True,
                                    bad_words_ids=[[3]])
        logits = [float(step[0].max()) for step in out.scores]
        tokens = out.sequences[0, 1:].tolist()
        ended_at = tokens.index(2) + 1 if 2 in tokens else None
        stop = reference_stop_step(logits, window, threshold)
        steps = min(s for s in (stop, ended_at, len(logits)) if s is not None)
        ended = ended_at is not None and ended_at <= steps and ended_at < limit  # not forced
        expected.append((steps, reference_cut(logits[:steps], ended)))
    engine.close()
    for batch_size in (1, 4):
        engine = engines.create("nougat", nougat_settings(
            model, batch_size=batch_size, max_new_tokens=limit, repetition_window=window,
            repetition_threshold=threshold))
        engine.start()
        outputs = [out for _, out in engine.run(rendered_pages(tmp_path, engine, texts))]
        engine.close()
        got = [(out.meta["generated_tokens"], out.meta["repetition_at"]) for out in outputs]
        assert got == expected, (batch_size, got, expected)
        for out in outputs:
            assert (out.meta.get("missing_page") or out.finish_reason) == finish


def test_nougat_without_a_gpu_says_so(tmp_path: Path) -> None:
    model = tiny_nougat(tmp_path / "nougat-tiny")
    settings = {**config.validate({"input": "x"})["engines"]["nougat"], "model": str(model)}
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(engines.EngineUnavailable, match="no CUDA GPU visible"):
        engines.create("nougat", settings).start()
