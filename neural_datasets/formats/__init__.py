"""File formats read or written without their frameworks: TFRecord and ``tf.train.Example``
(:mod:`.tfrecord`), MATLAB .mat v5 and v7.3 (:mod:`.matfiles`), and cv2-exact bilinear
resizing (:mod:`.resize`).
"""
