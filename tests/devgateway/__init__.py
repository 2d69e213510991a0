"""Tests of the local Twilio emulator and dev phone (hotline.devgateway)."""
