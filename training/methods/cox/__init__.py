"""COX (connect & explore): out-of-modal generalisation without instance-level correspondence."""
from xmodal_training.methods.cox.configuration_cox import COXConfig
from xmodal_training.methods.cox.modeling_cox import train_semi_supervised, train_unsupervised

__all__ = ['COXConfig', 'train_semi_supervised', 'train_unsupervised']
