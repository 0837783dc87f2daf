"""Running trained models: everything above the model layer that turns audio into answers.

- `predict`: clip scores, top-k labels and embeddings of files and folders (`aum predict`, `aum embed`);
- `timeline` (+ `timeline_report`): per-window scores and events over long recordings, streamed
  (`aum predict --timeline`);
- `serve`: a web page and a JSON endpoint (`aum serve`, extra `aum[serve]`);
- `hear`: the HEAR 2021 benchmark API;
- `export`: ONNX / torch ExportedProgram files (`aum export`, extra `aum[export]`).
"""

from aum.inference.predict import audio_paths, embed_files, embed_waveform, predict_files

__all__ = ["audio_paths", "embed_files", "embed_waveform", "predict_files"]
