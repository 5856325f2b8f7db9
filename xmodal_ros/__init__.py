"""Robot-side runtime of xmodal_ros: numpy, rclpy and onnxruntime/tensorrt only, never torch."""
