package com.flowerpipeline.demo.core

import java.io.IOException

/** A stored photo's size from a bounds-only read (no pixels decoded). */
class PhotoBounds(val width: Int, val height: Int, val jpeg: Boolean)

/**
 * How much to shrink a photo while decoding it (BitmapFactory.Options.inSampleSize, a power of
 * two), so that any photo, 12 MP or 200 MP, fits in bounded memory.
 */
object SampleSize {
    /** Pillow's JPEG draft mode scales by 1/2, 1/4 or 1/8 at most (libjpeg's DCT scaling). */
    const val MAX_DRAFT = 8

    /** A photo decoded for the model never holds more pixels than this (16 MB as ARGB ints). */
    const val MAX_PIXELS = 4 shl 20

    /**
     * Mirrors Python's loader (pipeline/data/images.py): a JPEG is decoded at 1/s, s the
     * largest of 8, 4, 2, 1 with min(width, height) >= 2 * s * target (the reduced image keeps
     * at least twice the model's side, so the bilinear resize that follows still averages),
     * then resized as usual; other formats at full size. Only a photo still above [MAX_PIXELS]
     * is shrunk further, and there the phone's pixels differ from Python's.
     */
    fun forModel(photo: PhotoBounds, target: Int): Int {
        var sample = 1
        if (photo.jpeg) {
            val shorter = minOf(photo.width, photo.height).toLong()
            while (sample < MAX_DRAFT && shorter >= 2L * (sample * 2) * target) sample *= 2
        }
        while (pixels(photo, sample) > MAX_PIXELS) sample *= 2
        return sample
    }

    /**
     * The smallest power of two at which both sides fit in `side` (the screen's shorter side:
     * a photo of either shape then fills the width of a phone held upright, and a 12 MP one
     * becomes ~1 MP instead of the 48 MB bitmap a view refuses to draw).
     */
    fun forScreen(photo: PhotoBounds, side: Int): Int {
        require(side > 0) { "screen side $side" }
        var sample = 1
        while (ceilDiv(photo.width, sample) > side || ceilDiv(photo.height, sample) > side) sample *= 2
        return sample
    }

    private fun pixels(photo: PhotoBounds, sample: Int): Long =
        ceilDiv(photo.width, sample).toLong() * ceilDiv(photo.height, sample)

    private fun ceilDiv(a: Int, b: Int) = (a + b - 1) / b
}

/**
 * What the platform does with a photo file: Android's BitmapFactory and ExifInterface in the
 * app, ImageIO in the JVM tests. `B` is the platform's bitmap.
 */
interface PhotoSource<B> {
    /** Throws IOException when the file cannot be read or is no image. */
    fun bounds(): PhotoBounds
    /** The EXIF Orientation tag; NORMAL when absent or unreadable (as Pillow does). */
    fun orientation(): Int
    /** The photo at about 1/`sample` of its size; throws IOException when it cannot. */
    fun decode(sample: Int): B
    fun width(bitmap: B): Int
    fun height(bitmap: B): Int
    /** Packed ARGB pixels of `bitmap`, row by row, into `out`. */
    fun pixels(bitmap: B, out: IntArray)
    /** `bitmap` turned by EXIF `orientation` (2..8), for the screen ([Orientation.mirrorThenTurn]). */
    fun upright(bitmap: B, orientation: Int): B
}

/** What the worker hands to the screen: a photo and its answer, or one line saying what failed. */
sealed class Outcome<out B> {
    class Shown<B>(val photo: B, val text: String) : Outcome<B>()
    class Failed(val message: String) : Outcome<Nothing>()
}

/**
 * A gallery photo through the model, in bounded memory: decoded for the model at the size
 * Python's loader would use ([SampleSize.forModel]), shown as a copy no larger than the screen
 * (a bitmap above ~100 MB makes the view throw while drawing, outside any try). Every failure
 * becomes an [Outcome.Failed]; nothing escapes to the worker thread.
 */
class PhotoJob(private val modelSize: Int, private val screenSide: Int) {
    fun interface Classify {
        /** Packed ARGB pixels stored turned by EXIF `orientation` -> the text to show. */
        fun run(argb: IntArray, width: Int, height: Int, orientation: Int): String
    }

    fun <B> run(source: PhotoSource<B>, classify: Classify): Outcome<B> = Failures.guard("Photo") {
        val bounds = source.bounds()
        val orientation = source.orientation()
        val sample = SampleSize.forModel(bounds, modelSize)
        val forModel = source.decode(sample)
        val (w, h) = source.width(forModel) to source.height(forModel)
        val text = IntArray(w * h).let { source.pixels(forModel, it); classify.run(it, w, h, orientation) }
        val screenSample = SampleSize.forScreen(bounds, screenSide)
        val forScreen = if (screenSample == sample) forModel else source.decode(screenSample)
        Outcome.Shown(if (orientation in 2..8) source.upright(forScreen, orientation) else forScreen, text)
    }
}

/** Worker-thread failures as one line for the screen. */
object Failures {
    fun message(what: String, e: Throwable): String = "$what: " + when (e) {
        is InputMismatch -> "the model cannot be used: ${e.message}"
        is JsonException -> "the model's description is damaged: ${e.message}"
        is IOException -> "cannot read it (${e.message ?: e.javaClass.simpleName})"
        is OutOfMemoryError -> "not enough memory"
        else -> "${e.javaClass.simpleName}: ${e.message}"
    }

    /** Runs `block`; an Exception or an OutOfMemoryError becomes [Outcome.Failed]. */
    fun <B> guard(what: String, block: () -> Outcome<B>): Outcome<B> =
        try {
            block()
        } catch (e: Exception) {
            Outcome.Failed(message(what, e))
        } catch (e: OutOfMemoryError) {
            Outcome.Failed(message(what, e))
        }
}
