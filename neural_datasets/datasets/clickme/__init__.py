"""ClickMe: ImageNet images with human feature-importance heatmaps (Harmonization)."""
