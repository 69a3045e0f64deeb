"""The YOLO lab's UI (pages/yolo.py), by section: the detector and thresholds, the picture and the live webcam,
IoU, the grid, the stages and NMS step by step, anchors, retraining and evaluation."""
