"""Nougat's transformers code path with a tiny, randomly initialised model of Nougat's
architecture (Donut-Swin encoder, MBart decoder) and its processor, built here: real loading,
batching, generation, decoding and post-processing; no weights are downloaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocrflow import config, engines
from ocrflow.engines import PageInput
from ocrflow.engines.nougat import FlatConfidenceStop
from ocrflow.render import RenderTask, render_page
from tests import pdfs

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
        max_position_embeddings=128, is_decoder=True, add_cross_attention=True,
        pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1)
    model_config = transformers.VisionEncoderDecoderConfig.from_encoder_decoder_configs(
        encoder, decoder)
    model_config.decoder_start_token_id, model_config.pad_token_id = 1, 0
    model_config.eos_token_id = 2
    torch.manual_seed(0)
    transformers.VisionEncoderDecoderModel(config=model_config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def test_nougat_reads_pages_in_batches(tmp_path: Path) -> None:
    model = tiny_nougat(tmp_path / "nougat-tiny")
    settings = {**config.validate({"input": "x"})["engines"]["nougat"], "model": str(model),
                "device": "cpu", "batch_size": 2, "max_new_tokens": 20,
                "repetition_window": 8}
    engine = engines.create("nougat", settings)
    path = pdfs.write(tmp_path / "doc.pdf", pdfs.text_pdf(["one", "two", "three"]))
    pages = []
    for number in (1, 2, 3):
        page = PageInput("h", number, str(path))
        page.image = render_page(RenderTask(None, str(path), number, engine.render_spec))
        pages.append(page)
    batches = []
    engine.start()
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
            assert output.meta == {"missing_page": "fail"}
        elif not output.text:
            assert output.meta == {"missing_page": "empty"}


def test_flat_confidence_stops_a_loop_and_only_the_loop() -> None:
    stop = FlatConfidenceStop(batch_size=2, window=5, threshold=0.01)
    ids = torch.zeros((2, 1), dtype=torch.long)
    for step in range(8):
        looping = torch.tensor([10.0, 0.0, 0.0])  # the same confident choice every step
        varied = torch.tensor([0.0, float(step % 3) * 3, 1.0])  # confidence moves around
        done = stop(ids, torch.stack([looping, varied]))
    assert stop.stopped == [True, False]
    assert done.tolist() == [True, False]


def test_nougat_without_a_gpu_says_so(tmp_path: Path) -> None:
    model = tiny_nougat(tmp_path / "nougat-tiny")
    settings = {**config.validate({"input": "x"})["engines"]["nougat"], "model": str(model)}
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(engines.EngineUnavailable, match="no CUDA GPU visible"):
        engines.create("nougat", settings).start()
