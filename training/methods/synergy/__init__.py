"""Synergy: a frozen known-sensor model regularises a new sensor's model without pairs."""
from xmodal_training.methods.synergy.configuration_synergy import SynergyConfig
from xmodal_training.methods.synergy.modeling_synergy import (
    alpha_star, alpha_star_for, alpha_sweep, train_synergy, w2_gaussian)

__all__ = ['SynergyConfig', 'alpha_star', 'alpha_star_for', 'alpha_sweep', 'train_synergy',
           'w2_gaussian']
