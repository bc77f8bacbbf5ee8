"""Writes a log dir of 1M scalars with TensorBoard's own writer, for `cargo bench --bench scalars`.

python3 benches/make_scalar_logdir.py OUT_DIR [RUNS TAGS STEPS]   (default 10 10 10000)
Each event holds one TF2 scalar tensor (the tf.summary.scalar form), as TensorBoard writes.
"""
import os
import sys

from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, types_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

out = sys.argv[1]
runs, tags, steps = (int(a) for a in (sys.argv[2:5] or (10, 10, 10000)))
metadata = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
for r in range(runs):
    w = EventFileWriter(os.path.join(out, f"run_{r:02d}"), max_queue_size=100000)
    for step in range(steps):
        for t in range(tags):
            value = summary_pb2.Summary.Value(
                tag=f"tag_{t:02d}",
                metadata=metadata,
                tensor=tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[1.0 / (step + t + 1)]),
            )
            w.add_event(event_pb2.Event(wall_time=1764000000.0 + step, step=step, summary=summary_pb2.Summary(value=[value])))
    w.close()
