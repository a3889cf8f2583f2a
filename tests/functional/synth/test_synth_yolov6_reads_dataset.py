"""YOLOv6's own data loader reads the YOLO layout that ``write_dataset`` writes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from loadcheck.synth import write_dataset

pytestmark = pytest.mark.torch


def test_yolov6_train_and_val_loaders_read_the_synthetic_dataset(tmp_path: Path):
    datasets = pytest.importorskip("yolov6.data.datasets")
    summary = write_dataset(tmp_path / "ds", 20, 9, (320, 192), progress=False)
    data = yaml.safe_load((tmp_path / "ds" / "data.yaml").read_text())
    for task in ("train", "val"):
        ds = datasets.TrainValDataset(
            data[task],
            img_size=320,
            batch_size=4,
            augment=False,
            hyp=None,
            rect=False,
            check_images=True,
            check_labels=True,
            stride=32,
            pad=0.0,
            rank=-1,
            data_dict=data,
            task=task,
        )
        assert len(ds.img_paths) == summary.split_counts[task]
        image, labels, _, _ = ds[0]
        assert tuple(image.shape) == (3, 320, 320)
        if len(labels):
            assert set(labels[:, 1].tolist()) <= {0.0, 1.0}  # class ids: bed, load
