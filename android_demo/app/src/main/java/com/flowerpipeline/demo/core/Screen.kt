package com.flowerpipeline.demo.core

import java.util.Locale

/** The camera and screen decisions of the app, as plain functions the JVM tests reach. */
object Screen {
    /**
     * The analysis resolution to ask CameraX for (a ResolutionStrategy bound, closest higher
     * size first): 4:3 with the shorter side the model's input, but at least 240 (most
     * cameras' smallest stream). A 224 px model gets ~320 x 240 instead of 640 x 480: a
     * quarter of the pixels to unpack and resize, and the model sees no less.
     */
    fun analysisSize(modelSize: Int): Pair<Int, Int> {
        val short = maxOf(modelSize, 240)
        return (short * 4 + 2) / 3 to short
    }

    /**
     * The device's physical orientation (OrientationEventListener degrees, -1 when flat or
     * unknown) -> the Surface.ROTATION_* value (0..3) CameraX needs as the analysis target
     * rotation, so that a phone held sideways still gets frames turned upright; null: keep.
     * The activity is portrait-locked, so the display rotation never says this.
     */
    fun targetRotation(degrees: Int): Int? = when {
        degrees < 0 -> null
        degrees % 360 in 45 until 135 -> 3   // Surface.ROTATION_270: top of the phone to the right
        degrees % 360 in 135 until 225 -> 2  // Surface.ROTATION_180
        degrees % 360 in 225 until 315 -> 1  // Surface.ROTATION_90
        else -> 0                            // Surface.ROTATION_0
    }

    /** "frame 7.9 ms, model 1.6 ms (int8, 2 threads)": camera frame to answer, and the model alone. */
    fun timing(frameMs: Double, modelMs: Double, variant: String, threads: Int): String =
        String.format(Locale.ROOT, "frame %.1f ms, model %.1f ms  (%s, %d thread%s)",
                      frameMs, modelMs, variant, threads, if (threads == 1) "" else "s")
}
