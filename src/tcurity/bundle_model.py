"""The code MLflow logs beside a behaviour bundle (MLflow's models from code).

Loading the logged pyfunc runs this file, which names the model; nothing of it is pickled. The bundle itself is
its JSON and npz files (``artifacts/bundle``), which serving reads without MLflow (:mod:`tcurity.bundles`).
"""

import mlflow

from tcurity.scoring import BundlePyfunc

mlflow.models.set_model(BundlePyfunc())
